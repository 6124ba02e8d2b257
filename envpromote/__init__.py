"""EnvPromote: build once, promote one image digest through ECS environments."""

__version__ = "0.1.0"
