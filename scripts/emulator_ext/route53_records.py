"""Route 53 record deletion by name, type and set identifier.

moto deletes a record set given with a SetIdentifier by the identifier alone: every record set of
the zone with that identifier goes, whatever its name (so deleting `api`'s PRIMARY record also
deletes `www`'s). AWS deletes only the record set with that name, type and identifier. Here a
DELETE with a SetIdentifier removes exactly that one; the rest of moto's ChangeResourceRecordSets
(validation, the change journal) is unchanged.
"""


def _norm(name):
    return (name or "").rstrip(".").lower()


def _patch():
    from moto.route53.models import Route53Backend

    if getattr(Route53Backend, "drpair_exact_delete", False):
        return
    Route53Backend.drpair_exact_delete = True
    original = Route53Backend.change_resource_record_sets

    def change_resource_record_sets(self, zoneid, change_list):
        zone = self.get_hosted_zone(zoneid)
        # moto calls zone.delete_rrset_by_id(set_identifier) once per DELETE with an
        # identifier, in order: answer each call with the change it stands for.
        pending = [
            change["ResourceRecordSet"]
            for change in change_list
            if change.get("Action") == "DELETE" and "SetIdentifier" in change.get("ResourceRecordSet", {})
        ]

        def delete_rrset_by_id(set_identifier):
            wanted = pending.pop(0) if pending else {"SetIdentifier": set_identifier}
            zone.rrsets = [
                r
                for r in zone.rrsets
                if not (
                    r.set_identifier == set_identifier
                    and ("Name" not in wanted or _norm(r.name) == _norm(wanted["Name"]))
                    and ("Type" not in wanted or r.type == wanted["Type"])
                )
            ]

        zone.delete_rrset_by_id = delete_rrset_by_id
        try:
            return original(self, zoneid, change_list)
        finally:
            del zone.delete_rrset_by_id

    Route53Backend.change_resource_record_sets = change_resource_record_sets


def register(app):
    _patch()
    return app
