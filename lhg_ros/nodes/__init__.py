"""Thin ROS 2 nodes: messages in, the ROS-free core, messages out."""
