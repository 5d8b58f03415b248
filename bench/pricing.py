"""AWS list prices (us-east-1, on demand, no free tier) that the cost figure applies."""

from __future__ import annotations

# DynamoDB on-demand (since the price cut of November 2024)
DYNAMODB_PER_MILLION_WRU = 0.625
DYNAMODB_PER_MILLION_RRU = 0.125
# Lambda, arm64 (Graviton)
LAMBDA_PER_GB_SECOND_ARM = 0.0000133334
LAMBDA_PER_MILLION_REQUESTS = 0.20
# Step Functions, Standard workflows
SFN_PER_THOUSAND_TRANSITIONS = 0.025
# SQS, standard queue
SQS_PER_MILLION_REQUESTS = 0.40
# billed too, but outside the figure the issue defines (shown apart in its detail)
API_GATEWAY_REST_PER_MILLION = 3.50
SES_PER_THOUSAND_EMAILS = 0.10

SOURCE = ("AWS list prices, us-east-1, on demand, free tiers ignored: DynamoDB $0.625 per million WRU and $0.125 "
          "per million RRU; Lambda arm64 $0.0000133334 per GB-s and $0.20 per million requests (duration rounded "
          "up to 1 ms); Step Functions Standard $0.025 per 1,000 state transitions; SQS $0.40 per million requests")
