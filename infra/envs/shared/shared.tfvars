# Values for the shared root that hold in any account.
region = "us-east-1"
