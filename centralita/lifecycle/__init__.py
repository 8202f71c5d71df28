"""Data lifecycle: retention and its purge, tenant exports for handover, customer erasure."""
