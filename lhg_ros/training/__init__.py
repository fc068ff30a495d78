"""Training and listener-specific fine-tuning of the LSTM-Transformer (ROS-free)."""
