# Partial backend configuration: the bucket (and its region) come from `invoke infra.init`
# (--state-bucket/--state-region or ENVPROMOTE_TF_STATE_BUCKET/ENVPROMOTE_TF_STATE_REGION).
key          = "envpromote/bootstrap-oidc/terraform.tfstate"
encrypt      = true
use_lockfile = true
