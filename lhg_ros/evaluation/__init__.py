"""Objective measures of generated listener motion (ROS-free), defined once and reused."""
