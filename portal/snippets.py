"""Quick-start snippets for the API catalogue: curl, the Python openai SDK and JavaScript."""
from string import Template

from django.conf import settings

CURL = Template("""curl $url/chat/completions \\
  -H "Authorization: Bearer $$SWITCHYARD_API_KEY" \\
  -H "Content-Type: application/json" \\
  -d '{"model": "$model", "messages": [{"role": "user", "content": "Hello"}]}'""")

PYTHON = Template("""import os
from openai import OpenAI

client = OpenAI(base_url="$url", api_key=os.environ["SWITCHYARD_API_KEY"])
reply = client.chat.completions.create(
    model="$model",
    messages=[{"role": "user", "content": "Hello"}],
)
print(reply.choices[0].message.content)""")

JAVASCRIPT = Template("""import OpenAI from "openai";

const client = new OpenAI({baseURL: "$url", apiKey: process.env.SWITCHYARD_API_KEY});
const reply = await client.chat.completions.create({
  model: "$model",
  messages: [{role: "user", content: "Hello"}],
});
console.log(reply.choices[0].message.content);

// Or without the SDK:
const response = await fetch("$url/chat/completions", {
  method: "POST",
  headers: {"Authorization": `Bearer $${process.env.SWITCHYARD_API_KEY}`, "Content-Type": "application/json"},
  body: JSON.stringify({model: "$model", messages: [{role: "user", content: "Hello"}]}),
});
console.log((await response.json()).choices[0].message.content);""")


def base_url():
    """The OpenAI-compatible base URL clients point at (the data plane serves /v1/)."""
    return settings.SITE_URL.rstrip("/") + "/v1"


def quick_start(model):
    """{language: code}. The key is read from SWITCHYARD_API_KEY: the portal never knows a key after creation."""
    values = {"url": base_url(), "model": model}
    return {"curl": CURL.substitute(values), "python": PYTHON.substitute(values),
            "javascript": JAVASCRIPT.substitute(values)}
