"""The business of the hubs: who they serve, how businesses are identified and classified."""
