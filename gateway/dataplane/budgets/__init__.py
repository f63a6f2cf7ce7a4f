"""Budget counters of the data plane: reservations before a call, settlement after it.

  plan.py     which budgets count a call, their counters, the call's worst-case cost
  periods.py  calendar periods in the tenant's time zone (the period is in the counter's key)
  money.py    exact integer units (micro-dollars + pico-dollar rest), never floats
  lua.py      the Redis scripts: reserve, settle, reconcile
  store.py    Redis counters (hot path: the pipelined client, redis_wire.py; reconcile job: sync redis-py)
  local.py    the same counters in process memory, for embedded mode
  engine.py   reserve/settle with downgrade and outage handling, used by steps/budget.py

The ledger is the source of truth; billing/budgets.py reconciles the counters with it.
"""
