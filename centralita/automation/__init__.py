"""Business rules: when a tenant event happens and conditions hold, actions run."""
