"""Every password form is throttled per client IP and per account (issue 14, finding 4).

The console and portal sign-in counted per REMOTE_ADDR only; /django-admin/login/ not at all.
Django's test client against the real Redis cache; REMOTE_ADDR plays the TCP peer.
"""
import pytest
from django.core.cache import cache
from django.test import Client

from gateway.models import User
from gateway.throttle import ACCOUNT_ATTEMPTS_PER_WINDOW, IP_ATTEMPTS_PER_WINDOW

pytestmark = pytest.mark.django_db

FORMS = {"console": "/console/login/", "portal": "/portal/login/", "admin": "/django-admin/login/"}
PEER = "198.51.100.7"  # TEST-NET-2: a client talking to us directly
PROXY = "10.1.2.3"  # inside TRUSTED_PROXIES below
ROOT_PASSWORD = "Root-password-of-the-test-42"


@pytest.fixture(autouse=True)
def fresh_counters(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # 100s of sign-ins
    cache.clear()  # this run's own Redis database (REDIS_URL)
    yield
    cache.clear()


@pytest.fixture
def root(db):
    return User.objects.create_superuser(email="root@switchyard.test", password=ROOT_PASSWORD)


def attempt(url, account, peer=PEER, forwarded=None, password="wrong-password"):
    extra = {"REMOTE_ADDR": peer}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return Client().post(url, {"username": account, "password": password}, **extra)


def spend_ip_allowance(url, **kwargs):
    """IP_ATTEMPTS_PER_WINDOW attempts, each at another account: none refused."""
    statuses = [attempt(url, f"nobody{i}@switchyard.test", **kwargs).status_code
                for i in range(IP_ATTEMPTS_PER_WINDOW)]
    assert 429 not in statuses


@pytest.mark.parametrize("form", FORMS)
def test_it_refuses_the_21st_attempt_from_one_ip(form):
    spend_ip_allowance(FORMS[form])
    response = attempt(FORMS[form], "someone-else@switchyard.test")
    assert response.status_code == 429 and response["Retry-After"] == "3600"


@pytest.mark.parametrize("form", FORMS)
def test_it_limits_attempts_at_one_account_from_many_ips(form, root):
    for i in range(ACCOUNT_ATTEMPTS_PER_WINDOW):
        assert attempt(FORMS[form], root.email, peer=f"203.0.113.{i + 1}").status_code != 429
    # Another address, and the address in another case: the account is the same.
    assert attempt(FORMS[form], " ROOT@switchyard.test", peer="192.0.2.200").status_code == 429


@pytest.mark.parametrize("form", FORMS)
def test_it_refuses_the_right_password_while_throttled(form, root):
    spend_ip_allowance(FORMS[form])
    client = Client()
    response = client.post(FORMS[form], {"username": root.email, "password": ROOT_PASSWORD}, REMOTE_ADDR=PEER)
    assert response.status_code == 429 and "_auth_user_id" not in client.session
    # The same password from elsewhere signs in: it was the throttle, not the password.
    response = client.post(FORMS[form], {"username": root.email, "password": ROOT_PASSWORD},
                           REMOTE_ADDR="192.0.2.1")
    assert response.status_code == 302 and client.session["_auth_user_id"] == str(root.pk)


def test_it_ignores_x_forwarded_for_from_an_untrusted_peer(settings):
    settings.TRUSTED_PROXIES = []
    url = FORMS["console"]
    for i in range(IP_ATTEMPTS_PER_WINDOW):
        attempt(url, f"nobody{i}@switchyard.test", forwarded=f"203.0.113.{i + 1}")
    assert attempt(url, "another@switchyard.test", forwarded="203.0.113.250").status_code == 429


def test_it_ignores_x_forwarded_for_from_a_loopback_peer(settings):
    settings.TRUSTED_PROXIES = []
    url = FORMS["admin"]
    for i in range(IP_ATTEMPTS_PER_WINDOW):
        attempt(url, f"nobody{i}@switchyard.test", peer="127.0.0.1", forwarded=f"203.0.113.{i + 1}")
    assert attempt(url, "x@switchyard.test", peer="127.0.0.1", forwarded="203.0.113.250").status_code == 429


def test_it_counts_the_client_a_trusted_proxy_names(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    url = FORMS["portal"]
    # Behind the proxy, every attempt comes from another client: none is refused.
    for i in range(IP_ATTEMPTS_PER_WINDOW + 5):
        response = attempt(url, f"nobody{i}@switchyard.test", peer=PROXY, forwarded=f"203.0.113.{i + 1}, 10.9.9.9")
        assert response.status_code != 429
    # One client, whatever it writes left of the address the proxy appended: refused at the 21st.
    for i in range(IP_ATTEMPTS_PER_WINDOW):
        attempt(url, f"again{i}@switchyard.test", peer=PROXY, forwarded=f"1.1.1.{i + 1}, 192.0.2.9")
    assert attempt(url, "last@switchyard.test", peer=PROXY, forwarded="8.8.8.8, 192.0.2.9").status_code == 429


def test_it_throttles_the_admin_password_change_per_account(root):
    client = Client()
    client.force_login(root)
    url = "/django-admin/password_change/"
    form = {"old_password": "not-it", "new_password1": "New-password-1234", "new_password2": "New-password-1234"}
    for i in range(ACCOUNT_ATTEMPTS_PER_WINDOW):
        assert client.post(url, form, REMOTE_ADDR=f"203.0.113.{i + 1}").status_code == 200  # form error
    form["old_password"] = ROOT_PASSWORD
    assert client.post(url, form, REMOTE_ADDR="192.0.2.1").status_code == 429
    root.refresh_from_db()
    assert root.check_password(ROOT_PASSWORD)
