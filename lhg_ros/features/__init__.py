"""ROS-free feature extraction: speaker audio (81-d) and head motion (18-d), online and offline."""
