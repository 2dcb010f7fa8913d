"""PostgreSQL row-level security for tenant tables (DESIGN.md, tenancy layer 3).

See docs/rls.md.
"""
