"""docs/scaling.md's setups on one machine (throwaway PostgreSQL and Redis, celery workers, the daemon),
as the tests and bench/engines.py run them."""
