# The id is {name}-{environment}: the network's owner tag in both regions.
terraform import drpair_network.main payments-dev
