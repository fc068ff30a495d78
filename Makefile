# The two commands of the README. Each one sets up what it needs (Debian packages, .venv).
.PHONY: demo test bench soak setup lint clean gpu-check

demo:  ## environment check + end-to-end demo
	scripts/demo.sh

test:  ## lint + the whole test suite
	scripts/test.sh

setup:  ## only the set-up: Debian packages and .venv
	scripts/bootstrap.sh

lint:
	scripts/bootstrap.sh && .venv/bin/ruff check .

clean:
	rm -rf .venv build install log out .pytest_cache .ruff_cache *.egg-info

soak:  ## the three nodes for SOAK_MINUTES (10) on looping files: memory growth, command rate
	scripts/bootstrap.sh
	.venv/bin/python scripts/soak.py

gpu-check:  ## on an NVIDIA GPU: TensorRT engines, parity, step times, listener_node (one table)
	scripts/gpu_check.sh

bench:  ## the benchmarks, each printing a table (installs the reference libraries)
	EXTRAS=ros,ml,microphone,dev,bench scripts/bootstrap.sh
	.venv/bin/python bench/bench_audio_features.py
	.venv/bin/python bench/bench_head_pose.py
	.venv/bin/python bench/bench_model.py
	.venv/bin/python bench/bench_closed_loop.py
	.venv/bin/python bench/bench_styles.py
	.venv/bin/python bench/bench_finetune.py
	.venv/bin/python bench/bench_replay.py
	.venv/bin/python bench/bench_end_to_end.py
	.venv/bin/python bench/bench_training.py
