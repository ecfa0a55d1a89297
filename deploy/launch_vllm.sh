#!/usr/bin/env bash
# One vLLM server per expert on this host (rendered from experts.yaml; do not edit by hand).
# Each server polls ready on GET /health; the gateway waits for all of them via GET /ready.
# GPU plan: 2 GPU(s) of 80 GB; GPU 0: 61 GB; GPU 1: 73 GB
set -euo pipefail

# qwen2.5-7b-instruct: General-purpose instruct model; also the default aggregator and keyword annotator. (18 GB on GPU 1)
CUDA_VISIBLE_DEVICES=1 VLLM_SERVER_DEV_MODE=1 vllm serve Qwen/Qwen2.5-7B-Instruct --served-model-name Qwen/Qwen2.5-7B-Instruct --host 0.0.0.0 --port 8101 --max-model-len 8192 --gpu-memory-utilization 0.23 --max-num-seqs 128 --enable-sleep-mode --enable-auto-tool-choice --tool-call-parser hermes > logs/qwen2.5-7b-instruct.log 2>&1 &

# llama-3.1-8b-instruct: General chat and writing. (19 GB on GPU 0)
CUDA_VISIBLE_DEVICES=0 VLLM_SERVER_DEV_MODE=1 vllm serve meta-llama/Llama-3.1-8B-Instruct --served-model-name meta-llama/Llama-3.1-8B-Instruct --host 0.0.0.0 --port 8102 --max-model-len 8192 --gpu-memory-utilization 0.24 --max-num-seqs 128 --enable-sleep-mode > logs/llama-3.1-8b-instruct.log 2>&1 &

# qwen2.5-math-7b-instruct: Competition and grade-school mathematics. (18 GB on GPU 1)
CUDA_VISIBLE_DEVICES=1 VLLM_SERVER_DEV_MODE=1 vllm serve Qwen/Qwen2.5-Math-7B-Instruct --served-model-name Qwen/Qwen2.5-Math-7B-Instruct --host 0.0.0.0 --port 8103 --max-model-len 4096 --gpu-memory-utilization 0.23 --max-num-seqs 128 --enable-sleep-mode > logs/qwen2.5-math-7b-instruct.log 2>&1 &

# qwen2.5-coder-7b-instruct: Code generation, debugging and explanation. (18 GB on GPU 1)
CUDA_VISIBLE_DEVICES=1 VLLM_SERVER_DEV_MODE=1 vllm serve Qwen/Qwen2.5-Coder-7B-Instruct --served-model-name Qwen/Qwen2.5-Coder-7B-Instruct --host 0.0.0.0 --port 8104 --max-model-len 16384 --gpu-memory-utilization 0.23 --max-num-seqs 128 --enable-sleep-mode > logs/qwen2.5-coder-7b-instruct.log 2>&1 &

# bio-medical-llama-3-8b: Clinical and biomedical questions (ContactDoctor's Llama-3 fine-tune). (19 GB on GPU 1)
CUDA_VISIBLE_DEVICES=1 VLLM_SERVER_DEV_MODE=1 vllm serve ContactDoctor/Bio-Medical-Llama-3-8B --served-model-name ContactDoctor/Bio-Medical-Llama-3-8B --host 0.0.0.0 --port 8105 --max-model-len 8192 --gpu-memory-utilization 0.24 --max-num-seqs 64 --enable-sleep-mode > logs/bio-medical-llama-3-8b.log 2>&1 &

# deepseek-r1-distill-qwen-7b: Long-chain reasoning (logic puzzles, hard math); a strong aggregator for reasoning. (20 GB on GPU 0)
CUDA_VISIBLE_DEVICES=0 VLLM_SERVER_DEV_MODE=1 vllm serve deepseek-ai/DeepSeek-R1-Distill-Qwen-7B --served-model-name deepseek-ai/DeepSeek-R1-Distill-Qwen-7B --host 0.0.0.0 --port 8106 --max-model-len 32768 --gpu-memory-utilization 0.25 --max-num-seqs 64 --enable-sleep-mode > logs/deepseek-r1-distill-qwen-7b.log 2>&1 &

# gemma-2-9b-it: Knowledge-heavy general questions; the debate judge. (22 GB on GPU 0)
CUDA_VISIBLE_DEVICES=0 VLLM_SERVER_DEV_MODE=1 vllm serve google/gemma-2-9b-it --served-model-name google/gemma-2-9b-it --host 0.0.0.0 --port 8107 --max-model-len 8192 --gpu-memory-utilization 0.28 --max-num-seqs 64 --enable-sleep-mode > logs/gemma-2-9b-it.log 2>&1 &

wait
