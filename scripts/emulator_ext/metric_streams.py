"""CloudWatch metric streams, added to moto's CloudWatch backend and responses.

Operations (query, awsJson1.0 and, through cloudwatch_cbor, rpc-v2-cbor):

- PutMetricStream: creates (State ``running``) or updates a stream; returns its ARN
  ``arn:aws:cloudwatch:REGION:ACCOUNT:metric-stream/NAME``. FirehoseArn, RoleArn and OutputFormat
  are required (``MissingParameter``); OutputFormat is ``json``, ``opentelemetry0.7`` or
  ``opentelemetry1.0`` (else ``InvalidParameterValue``); IncludeFilters and ExcludeFilters
  together are ``InvalidParameterCombination``. An update keeps CreationDate and tags (Tags are
  only applied on creation, as on AWS) and moves LastUpdateDate.
- GetMetricStream: the whole configuration; an unknown name is ``ResourceNotFoundException``
  (HTTP 404).
- ListMetricStreams: Entries (Arn, Name, FirehoseArn, State, OutputFormat, CreationDate,
  LastUpdateDate), paginated with MaxResults (1-500) / NextToken (bad token:
  ``InvalidNextToken``).
- DeleteMetricStream: idempotent, as on AWS (no not-found error is modelled).
- StartMetricStreams / StopMetricStreams: set State ``running`` / ``stopped``; names that are not
  streams are ignored.
- TagResource / UntagResource / ListTagsForResource accept metric stream ARNs.
"""

from moto.core.exceptions import ServiceException

OUTPUT_FORMATS = ("json", "opentelemetry0.7", "opentelemetry1.0")


class MissingParameter(ServiceException):
    code = "MissingParameter"


class InvalidNextToken(ServiceException):
    code = "InvalidNextToken"


def streams(backend):
    """The region's metric streams (kept on moto's backend, so /moto-api/reset clears them)."""
    return backend.__dict__.setdefault("metric_streams", {})


def _stream_arn(backend, name):
    return f"arn:{backend.partition}:cloudwatch:{backend.region_name}:{backend.account_id}:metric-stream/{name}"


def put_metric_stream(backend, params):
    from moto.cloudwatch.exceptions import InvalidParameterCombination, InvalidParameterValue
    from moto.core.utils import utcnow

    name = params.get("Name")
    if not name:
        raise MissingParameter("The parameter Name is required.")
    if len(name) > 255:
        raise InvalidParameterValue("The parameter Name must be at most 255 characters long.")
    for key in ("FirehoseArn", "RoleArn", "OutputFormat"):
        if not params.get(key):
            raise MissingParameter(f"The parameter {key} is required.")
    if params["OutputFormat"] not in OUTPUT_FORMATS:
        raise InvalidParameterValue(
            f"The value {params['OutputFormat']} for parameter OutputFormat is not supported. "
            f"Supported values are: {', '.join(OUTPUT_FORMATS)}."
        )
    if params.get("IncludeFilters") and params.get("ExcludeFilters"):
        raise InvalidParameterCombination("IncludeFilters and ExcludeFilters cannot both be specified.")
    now = utcnow()
    existing = streams(backend).get(name)
    stream = {
        "Arn": _stream_arn(backend, name),
        "Name": name,
        "IncludeFilters": [dict(f) for f in params.get("IncludeFilters") or []],
        "ExcludeFilters": [dict(f) for f in params.get("ExcludeFilters") or []],
        "FirehoseArn": params["FirehoseArn"],
        "RoleArn": params["RoleArn"],
        "State": existing["State"] if existing else "running",
        "CreationDate": existing["CreationDate"] if existing else now,
        "LastUpdateDate": now,
        "OutputFormat": params["OutputFormat"],
        "StatisticsConfigurations": [dict(c) for c in params.get("StatisticsConfigurations") or []],
        "IncludeLinkedAccountsMetrics": bool(params.get("IncludeLinkedAccountsMetrics", False)),
    }
    streams(backend)[name] = stream
    if existing is None and params.get("Tags"):
        backend.tagger.tag_resource(stream["Arn"], [dict(t) for t in params["Tags"]])
    return stream


def _patch():
    from moto.cloudwatch.exceptions import InvalidParameterValue, ResourceNotFoundException
    from moto.cloudwatch.models import CloudWatchBackend
    from moto.cloudwatch.responses import CloudWatchResponse
    from moto.core.responses import ActionResult, EmptyResult

    if hasattr(CloudWatchResponse, "put_metric_stream"):
        return

    def put(self):
        return ActionResult({"Arn": put_metric_stream(self.cloudwatch_backend, self._get_params())["Arn"]})

    def get(self):
        name = self._get_param("Name")
        if not name:
            raise MissingParameter("The parameter Name is required.")
        stream = streams(self.cloudwatch_backend).get(name)
        if stream is None:
            raise ResourceNotFoundException(f"The metric stream {name} does not exist.")
        return ActionResult(dict(stream))

    def list_streams(self):
        entries = sorted(streams(self.cloudwatch_backend).values(), key=lambda s: s["Name"])
        limit = self._get_param("MaxResults") or 100
        if not 1 <= int(limit) <= 500:
            raise InvalidParameterValue("The parameter MaxResults must be between 1 and 500.")
        token = self._get_param("NextToken")
        start = 0
        if token:
            names = [s["Name"] for s in entries]
            if token not in names:
                raise InvalidNextToken("The service couldn't process the NextToken.")
            start = names.index(token)
        page = entries[start : start + int(limit)]
        keys = ("Arn", "CreationDate", "LastUpdateDate", "Name", "FirehoseArn", "State", "OutputFormat")
        result = {"Entries": [{k: s[k] for k in keys} for s in page]}
        if start + int(limit) < len(entries):
            result["NextToken"] = entries[start + int(limit)]["Name"]
        return ActionResult(result)

    def delete(self):
        name = self._get_param("Name")
        if not name:
            raise MissingParameter("The parameter Name is required.")
        stream = streams(self.cloudwatch_backend).pop(name, None)
        if stream is not None:
            self.cloudwatch_backend.tagger.delete_all_tags_for_resource(stream["Arn"])
        return EmptyResult()

    def set_state(state):
        def handler(self):
            names = self._get_param("Names") or []
            if not names:
                raise MissingParameter("The parameter Names is required.")
            for name in names:
                stream = streams(self.cloudwatch_backend).get(name)
                if stream is not None:
                    stream["State"] = state
            return EmptyResult()

        return handler

    CloudWatchResponse.put_metric_stream = put
    CloudWatchResponse.get_metric_stream = get
    CloudWatchResponse.list_metric_streams = list_streams
    CloudWatchResponse.delete_metric_stream = delete
    CloudWatchResponse.start_metric_streams = set_state("running")
    CloudWatchResponse.stop_metric_streams = set_state("stopped")

    original_tag = CloudWatchBackend.tag_resource
    original_untag = CloudWatchBackend.untag_resource

    def is_stream(backend, arn):
        return any(s["Arn"] == arn for s in streams(backend).values())

    def tag_resource(self, arn, tags):
        if is_stream(self, arn):
            self.tagger.tag_resource(arn, self.tagger.convert_dict_to_tags_input(tags))
            return
        original_tag(self, arn, tags)

    def untag_resource(self, arn, tag_keys):
        if is_stream(self, arn):
            self.tagger.untag_resource_using_names(arn, tag_keys)
            return
        original_untag(self, arn, tag_keys)

    CloudWatchBackend.tag_resource = tag_resource
    CloudWatchBackend.untag_resource = untag_resource


def register(app):
    _patch()
    return app
