"""The LSTM-Transformer listener model (ROS-free): config, network, checkpoints, generation."""
