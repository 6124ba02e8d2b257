# GitHub Actions' OIDC provider. No thumbprint: IAM trusts GitHub's certificate through its own
# root-CA library for this provider, and a pinned thumbprint breaks whenever GitHub rotates it.
resource "aws_iam_openid_connect_provider" "github" {
  url            = "https://token.actions.githubusercontent.com"
  client_id_list = ["sts.amazonaws.com"]
}
