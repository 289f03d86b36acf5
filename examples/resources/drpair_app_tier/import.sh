# The import id is {name}-{environment}: the name of the load balancers, target groups, launch
# templates and Auto Scaling groups in both regions.
terraform import drpair_app_tier.web payments-web-dev
