"""A security group rule is its protocol, ports and source; its description is not part of it.

AWS, Amazon EC2 API Reference, "RevokeSecurityGroupIngress"
(https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RevokeSecurityGroupIngress.html):
"Each rule has a protocol, from and to ports, and source (CIDR range, security group, or prefix
list) ... If the security group rule has a description, you do not need to specify the
description to revoke the rule."

moto matches CIDR sources without their description but compares a security-group source
(``UserIdGroupPairs``) as a whole dict, description included, so revoking a group rule that was
authorized with a description fails with ``InvalidPermission.NotFound``. This patch compares
group sources without their description, as AWS matches rules.
"""


def _without_description(source):
    if not source:
        return source
    return {k: v for k, v in source.items() if k != "Description"}


def _patch():
    from moto.ec2.models.security_groups import SecurityGroupRule

    original = SecurityGroupRule.__eq__

    def __eq__(self, other):
        if not isinstance(other, SecurityGroupRule):
            return NotImplemented
        if _without_description(self.source_group) != _without_description(other.source_group):
            return False
        mine, theirs = self.source_group, other.source_group
        try:
            self.source_group = _without_description(mine)
            other.source_group = _without_description(theirs)
            return original(self, other)
        finally:
            self.source_group, other.source_group = mine, theirs

    SecurityGroupRule.__eq__ = __eq__


def register(app):
    _patch()
