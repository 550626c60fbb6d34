"""gitops-gen: a multi-tenant WorkflowGen estate on Kubernetes, declared in git."""

__version__ = "0.1.0"
