"""Input devices and files for the nodes, without ROS: microphones, cameras, media files."""
