"""The direct probe of an https:// endpoint verifies its certificate: against the system's trust
store (here OpenSSL's SSL_CERT_FILE names the test CA, as a runtime's CA bundle would), for the
configured name (PRIMARY_ENDPOINT_TLS_NAME, sent as SNI) or else the URL's host. An answer that
does not verify is not the primary answering: it cannot hold a failover back. All on 127.0.0.1."""

import datetime
import ipaddress
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

import drpair_failover.signals as signals
from drpair_failover.config import Config, ConfigError, EndpointTls
from drpair_failover.signals import CONFIRM_PROBES, confirm_outage, probe_endpoint

NAME = "primary.drpair.test"
NOW = datetime.datetime.now(datetime.timezone.utc)


# --- certificates -----------------------------------------------------------------------------


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _sans(names):
    entries = []
    for name in names:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(entries)


class Authority:
    """A CA of its own, trusted only when a test says so."""

    def __init__(self, common_name="drpair test CA"):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(_name(common_name))
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW - datetime.timedelta(days=1))
            .not_valid_after(NOW + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .sign(self.key, hashes.SHA256())
        )

    def issue(self, names, not_before=None, not_after=None):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(names[0]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or NOW - datetime.timedelta(hours=1))
            .not_valid_after(not_after or NOW + datetime.timedelta(days=7))
            .add_extension(_sans(names), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        return cert, key


def self_signed(names):
    """What anything can make for any name: a certificate nobody vouches for."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(names[0]))
        .issuer_name(_name(names[0]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - datetime.timedelta(hours=1))
        .not_valid_after(NOW + datetime.timedelta(days=7))
        .add_extension(_sans(names), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


# --- an HTTPS endpoint on 127.0.0.1 -------------------------------------------------------------


class HttpsEndpoint:
    """Answers 200 to every GET that gets through the handshake; records the SNI it was sent."""

    def __init__(self, tmp_path, cert, key):
        cert_file = tmp_path / f"server-{id(self)}.pem"
        cert_file.write_bytes(
            _pem(cert)
            + key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file)
        self.server_names = []
        self.hits = 0
        endpoint = self

        def remember(_sock, server_name, _context):
            endpoint.server_names.append(server_name)

        context.sni_callback = remember

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                endpoint.hits += 1
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def get_request(self):
                sock, addr = super().get_request()
                # The handshake happens in the handler's thread, on its first read.
                return context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

            def handle_error(self, request, client_address):
                pass  # a refused handshake is what some tests want

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def url(self, host="127.0.0.1"):
        return f"https://{host}:{self.port}/health"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def serve(tmp_path):
    started = []

    def start(cert, key):
        endpoint = HttpsEndpoint(tmp_path, cert, key)
        started.append(endpoint)
        return endpoint

    yield start
    for endpoint in started:
        endpoint.close()


@pytest.fixture
def trust(tmp_path, monkeypatch):
    """Makes `authority` the whole trust store, as a runtime's CA bundle would be."""

    def use(*authorities):
        bundle = tmp_path / "trusted.pem"
        bundle.write_bytes(b"".join(_pem(a.cert) for a in authorities))
        monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
        monkeypatch.delenv("SSL_CERT_DIR", raising=False)

    # Nothing trusted unless a test says so (and never the machine's own store).
    use()
    return use


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    for key in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(key, raising=False)


# --- the probe --------------------------------------------------------------------------------


def test_a_self_signed_certificate_is_not_a_healthy_answer(serve, trust):
    """Today's spoofing case: anything at the address answers 200 with a certificate of its own."""
    endpoint = serve(*self_signed(["127.0.0.1", NAME]))
    probe = probe_endpoint(endpoint.url())
    assert probe.healthy is False
    assert "certificate" in probe.detail and "does not verify for 127.0.0.1" in probe.detail, probe.detail
    assert endpoint.hits == 0, "no request goes to an endpoint that did not prove who it is"
    probe = probe_endpoint(endpoint.url(), EndpointTls(NAME))
    assert probe.healthy is False and f"does not verify for {NAME}" in probe.detail, probe.detail


def test_a_certificate_from_an_untrusted_authority_is_not_a_healthy_answer(serve, trust):
    elsewhere = Authority("someone else's CA")
    endpoint = serve(*elsewhere.issue([NAME, "127.0.0.1"]))
    trust(Authority())
    assert probe_endpoint(endpoint.url(), EndpointTls(NAME)).healthy is False
    # Once its authority is in the trust store, the same answer counts.
    trust(elsewhere)
    assert probe_endpoint(endpoint.url(), EndpointTls(NAME)).healthy is True


def test_the_tls_name_is_verified_and_sent_as_sni_while_connecting_to_the_urls_host(serve, trust):
    """The URL names an address (or the load balancer); the certificate names the service."""
    ca = Authority()
    trust(ca)
    endpoint = serve(*ca.issue([NAME]))
    probe = probe_endpoint(endpoint.url(), EndpointTls(NAME))
    assert probe.healthy is True and probe.detail.endswith("answered HTTP 200"), probe.detail
    assert endpoint.server_names == [NAME]
    assert endpoint.hits == 1
    # Without the name, the certificate is checked for the URL's host, which it does not name.
    probe = probe_endpoint(endpoint.url())
    assert probe.healthy is False and "does not verify for 127.0.0.1" in probe.detail, probe.detail


def test_a_trusted_certificate_for_another_name_is_not_a_healthy_answer(serve, trust):
    ca = Authority()
    trust(ca)
    endpoint = serve(*ca.issue(["other.drpair.test", "127.0.0.1"]))
    probe = probe_endpoint(endpoint.url(), EndpointTls(NAME))
    assert probe.healthy is False and NAME in probe.detail, probe.detail
    assert endpoint.hits == 0


def test_by_default_the_certificate_must_name_the_urls_host(serve, trust):
    ca = Authority()
    trust(ca)
    endpoint = serve(*ca.issue(["127.0.0.1"]))
    assert probe_endpoint(endpoint.url()).healthy is True
    endpoint = serve(*ca.issue(["localhost"]))
    assert probe_endpoint(endpoint.url("localhost")).healthy is True
    assert probe_endpoint(endpoint.url()).healthy is False


def test_an_expired_certificate_is_not_a_healthy_answer(serve, trust):
    ca = Authority()
    trust(ca)
    endpoint = serve(*ca.issue([NAME], not_before=NOW - datetime.timedelta(days=3), not_after=NOW - datetime.timedelta(days=1)))
    probe = probe_endpoint(endpoint.url(), EndpointTls(NAME))
    assert probe.healthy is False and "expired" in probe.detail, probe.detail


def test_verification_can_be_turned_off_explicitly(serve, trust):
    endpoint = serve(*self_signed([NAME]))
    probe = probe_endpoint(endpoint.url(), EndpointTls(NAME, verify=False))
    assert probe.healthy is True
    assert "certificate not verified: PRIMARY_ENDPOINT_TLS_VERIFY=false" in probe.detail, probe.detail
    # The name still goes out as SNI (a load balancer picks its certificate by it).
    assert endpoint.server_names == [NAME]


# --- the decision -----------------------------------------------------------------------------


class _StalledCloudWatch:
    """The DR region's CloudWatch with no replication lag datapoint: replication has stopped."""

    def get(self, service, region=None):
        assert service == "cloudwatch", service
        return self

    def get_metric_data(self, **_params):
        return {"MetricDataResults": []}


class _Clock:
    def __init__(self):
        self.now = NOW.timestamp()

    def time(self):
        return self.now

    def sleep(self, seconds):
        self.now += max(seconds, 0)


def _config(url, **env):
    return Config.from_env(
        {
            "PRIMARY_REGION": "us-east-1",
            "DR_REGION": "us-east-2",
            "GLOBAL_CLUSTER_IDENTIFIER": "payments-global",
            "DR_CLUSTER_IDENTIFIER": "payments-dr",
            "DR_ASG_NAME": "web-dr",
            "STATE_TABLE": "failover-state",
            "PRIMARY_ENDPOINT_URL": url,
            **env,
        }
    )


def test_an_impostor_answering_at_the_primarys_address_cannot_hold_the_failover_back(serve, trust, monkeypatch):
    """Replication has stopped; something that is not the primary answers 200 at its address. The
    live confirmation goes through; with the primary's real certificate the answer holds it back."""
    monkeypatch.setattr(signals, "time", _Clock())
    ca = Authority()
    trust(ca)
    impostor = serve(*self_signed([NAME, "127.0.0.1"]))
    cfg = _config(impostor.url(), PRIMARY_ENDPOINT_TLS_NAME=NAME)
    confirmation = confirm_outage(cfg, _StalledCloudWatch())
    assert confirmation.confirmed, confirmation.reasons
    assert len(confirmation.probes) == CONFIRM_PROBES and impostor.hits == 0

    primary = serve(*ca.issue([NAME]))
    confirmation = confirm_outage(_config(primary.url(), PRIMARY_ENDPOINT_TLS_NAME=NAME), _StalledCloudWatch())
    assert not confirmation.confirmed and "the primary answers" in confirmation.reasons[0], confirmation.reasons
    assert primary.server_names == [NAME]


def test_tls_configuration():
    cfg = _config("https://web-1.us-east-1.elb.amazonaws.com/health")
    assert cfg.endpoint_tls == EndpointTls(None, True)
    cfg = _config("https://10.0.0.1/health", PRIMARY_ENDPOINT_TLS_NAME="API.Payments.Example.com.", PRIMARY_ENDPOINT_TLS_VERIFY="TRUE")
    assert cfg.endpoint_tls == EndpointTls("api.payments.example.com", True)
    assert _config("https://[::1]/", PRIMARY_ENDPOINT_TLS_NAME="::1").endpoint_tls.server_name == "::1"
    assert _config("https://x/", PRIMARY_ENDPOINT_TLS_VERIFY="false").endpoint_tls.verify is False
    for bad in ("no", "0", "off", "yes please"):
        with pytest.raises(ConfigError, match="PRIMARY_ENDPOINT_TLS_VERIFY"):
            _config("https://x/", PRIMARY_ENDPOINT_TLS_VERIFY=bad)
    for bad in ("https://api.example.com", "api example.com", "-api.example.com", "a..b", "*.example.com"):
        with pytest.raises(ConfigError, match="PRIMARY_ENDPOINT_TLS_NAME"):
            _config("https://x/", PRIMARY_ENDPOINT_TLS_NAME=bad)
