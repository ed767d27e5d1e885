"""Every use of Dagster's private API, behind one door.

Dagster's public API is enough to run the product; these modules buy speed where it costs the most
(a kept SQLite connection, bulk event writes, runs executed without compute-log capture). Each says
what it saves and what replaces it when `CTX_DAGSTER_PUBLIC_API=1` turns them off.
"""
