"""Budget and spend alerts: evaluated by a Celery beat task, never on a request path.

evaluate.py decides (thresholds, anomalies) and records AlertEvents with their
deliveries; deliver.py sends due deliveries through channels.py and retries
failures; forecast.py and periods.py are the pure arithmetic behind both.
"""
