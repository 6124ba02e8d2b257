# Partial backend configuration, the same for every account: the bucket (and its region) come from
# `invoke infra.init --env staging --state-bucket NAME` or ENVPROMOTE_TF_STATE_BUCKET / ENVPROMOTE_TF_STATE_REGION.
key          = "envpromote/staging/terraform.tfstate"
encrypt      = true
use_lockfile = true
