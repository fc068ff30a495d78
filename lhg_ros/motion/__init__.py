"""ROS-free listener motion: joint mapping, safety limits, the rule-based listener, the
real-time listener runtime that aligns the input streams and steps a policy."""
