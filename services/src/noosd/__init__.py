"""noos system services (org.noos.*) and the runtime they share (`noosd.runtime`)."""
