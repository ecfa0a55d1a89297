"""Deployment targets rendered from experts.yaml: GPU packing, Kubernetes (Helm values), Ray Serve."""
