"""Dyadic conversation datasets (ROS-free): manifest, validation, feature extraction,
listener segments."""
