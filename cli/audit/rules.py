"""The catalog of findings: one stable id each, its default severity, why it
matters and how to fix it. Ids never change meaning between versions; a new
kind of finding gets a new id. docs/audit.md lists the same table.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    """How much a finding matters; a blocker means "fix before launch"."""

    BLOCKER = "blocker"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        """0 for the most severe."""
        return list(Severity).index(self)


@dataclass(frozen=True)
class Rule:
    """One kind of finding."""

    id: str
    severity: Severity
    title: str
    why: str
    fix: str


B, H, M, L = Severity.BLOCKER, Severity.HIGH, Severity.MEDIUM, Severity.LOW

_RULES = (
    # DNS
    Rule(
        "dns.host_missing",
        H,
        "Host does not resolve",
        "Visitors and the app's own links to this name get no answer.",
        "Add an A/AAAA or CNAME record for it, or stop linking to it.",
    ),
    Rule(
        "dns.lookup_failed",
        M,
        "DNS did not answer",
        "The name could not be judged, and visitors' resolvers may fail the same way.",
        "Check that the domain's name servers answer for it over UDP and TCP.",
    ),
    Rule(
        "dns.dangling_cname",
        H,
        "CNAME points at a name that does not exist",
        "Whoever registers the target name serves content on your domain (subdomain takeover).",
        "Delete the CNAME, or recreate the resource it points to.",
    ),
    Rule(
        "dns.stale_host_resolves",
        H,
        "Old environment still resolves publicly",
        "Staging and dev hosts run older code with weaker settings and leak what is coming.",
        "Delete the record, or put the host behind a VPN or an auth proxy.",
    ),
    Rule(
        "dns.caa_missing",
        L,
        "No CAA record",
        "Any certificate authority may issue certificates for the domain.",
        'Publish CAA records naming the CA you use, e.g. 0 issue "letsencrypt.org".',
    ),
    # Redirects
    Rule(
        "redirect.http_not_https",
        H,
        "Plain HTTP is served without a redirect to HTTPS",
        "Visitors who type the name get an unencrypted page that anyone on the path can change.",
        "Answer every http:// request with a 301 to the same URL on https://.",
    ),
    Rule(
        "redirect.not_canonical",
        M,
        "Apex and www do not end on one canonical host",
        "Two hosts serving the same site split sessions, cookies and search ranking.",
        "Pick one host and 301 the other to it, keeping the path and query.",
    ),
    Rule(
        "redirect.not_permanent",
        L,
        "Redirect is temporary (302/307)",
        "Browsers and search engines keep asking the old URL and do not carry ranking over.",
        "Use 301 or 308 for redirects that will not change.",
    ),
    Rule(
        "redirect.path_dropped",
        M,
        "Redirect drops the path or query",
        "Deep links and campaign links land on the home page instead of their target.",
        "Redirect to the same path and query on the canonical host.",
    ),
    Rule(
        "redirect.chain_too_long",
        M,
        "Redirect chain too long",
        "Every hop costs a round trip before the first byte (want at most 2 from http:// "
        "and 1 between https:// hosts).",
        "Redirect straight to the final https:// URL on the canonical host.",
    ),
    Rule(
        "redirect.loop",
        B,
        "Redirect loop",
        "The page never loads: browsers stop with too many redirects.",
        "Fix the redirect rules so that the canonical URL answers 200.",
    ),
    Rule(
        "web.hsts_missing",
        M,
        "No Strict-Transport-Security header",
        "A first plain-HTTP request can be intercepted and downgraded.",
        "Send Strict-Transport-Security: max-age=31536000; includeSubDomains on https.",
    ),
    Rule(
        "web.hsts_short",
        L,
        "HSTS max-age shorter than 180 days",
        "Protection lapses for visitors who return less often than the max-age.",
        "Raise max-age to at least 15552000 (180 days), ideally 31536000.",
    ),
    # TLS
    Rule(
        "tls.unavailable",
        B,
        "HTTPS does not work",
        "Browsers cannot open the site over HTTPS at all.",
        "Serve a valid certificate for the name on port 443.",
    ),
    Rule(
        "tls.expired",
        B,
        "Certificate expired",
        "Browsers show a full-page warning and most visitors leave.",
        "Renew the certificate now and automate renewal (ACME).",
    ),
    Rule(
        "tls.expiring",
        B,
        "Certificate expires soon",
        "When it lapses browsers block the site; renewal is clearly not running.",
        "Renew now and check that automatic renewal works.",
    ),
    Rule(
        "tls.hostname_mismatch",
        B,
        "Certificate is for another name",
        "Browsers refuse the connection with a name-mismatch warning.",
        "Issue a certificate whose SAN list includes this host name.",
    ),
    Rule(
        "tls.untrusted",
        B,
        "Certificate chain not trusted",
        "Browsers and API clients refuse the connection.",
        "Serve the full chain from a publicly trusted CA.",
    ),
    Rule(
        "tls.old_version",
        B,
        "Only TLS older than 1.2 offered",
        "Current browsers refuse TLS 1.0 and 1.1, so the site does not open for them.",
        "Allow only TLS 1.2 and 1.3 (e.g. nginx ssl_protocols TLSv1.2 TLSv1.3).",
    ),
    Rule(
        "tls.ocsp_not_stapled",
        L,
        "No OCSP stapling",
        "Clients must ask the CA about revocation themselves, which is slower and leaks visits.",
        "Turn on OCSP stapling (nginx: ssl_stapling on; ssl_stapling_verify on).",
    ),
    Rule(
        "tls.manual_renewal",
        L,
        "Issuer does not renew by itself",
        "Certificates from non-ACME issuers are renewed by hand and expire when someone forgets.",
        "Use an ACME CA (Let's Encrypt, ZeroSSL, Google Trust Services) or a managed edge cert.",
    ),
    Rule(
        "tls.caa_forbids_issuer",
        H,
        "CAA does not allow the current issuer",
        "The next renewal from this CA will be refused and the certificate will lapse.",
        "Add a CAA issue record for the CA, or move to a CA the records allow.",
    ),
    # Web content
    Rule(
        "web.host_down",
        B,
        "Site does not answer",
        "Visitors get an error instead of the site.",
        "Make the host answer 200 on / over HTTPS.",
    ),
    Rule(
        "web.route_failing",
        H,
        "Route answers with an error status",
        "A route named for launch does not work.",
        "Fix the route so it answers 2xx.",
    ),
    Rule(
        "web.secret_file_exposed",
        B,
        "Secret file served from the web",
        "Anyone can download credentials or source from a well-known path.",
        "Remove the file from the web root and rotate every secret it held.",
    ),
    Rule(
        "web.source_map_exposed",
        L,
        "Source maps are public",
        "Your original source is readable by anyone.",
        "Stop deploying .map files, or restrict them to your error tracker.",
    ),
    Rule(
        "web.mixed_content",
        H,
        "HTTPS page loads http:// resources",
        "Browsers block active mixed content (scripts, styles, frames, forms) and warn on images.",
        "Load every subresource over https:// or with a relative URL.",
    ),
    Rule(
        "web.security_headers_missing",
        M,
        "Security headers missing",
        "Without them the page can be framed, sniffed or leak full URLs to other sites.",
        "Send Content-Security-Policy (with frame-ancestors), X-Content-Type-Options: nosniff "
        "and Referrer-Policy: strict-origin-when-cross-origin.",
    ),
    Rule(
        "web.cookie_insecure",
        M,
        "Cookie without Secure or HttpOnly",
        "Session cookies can leak over plain HTTP or be read by injected scripts.",
        "Set Secure and HttpOnly (and SameSite) on every session cookie.",
    ),
    Rule(
        "web.version_leak",
        L,
        "Server software version disclosed",
        "Attackers match version strings against known vulnerabilities.",
        "Hide versions (nginx: server_tokens off; remove X-Powered-By).",
    ),
    Rule(
        "web.assets_uncached",
        M,
        "Static assets not cacheable",
        "Every page view downloads scripts and styles again: slower pages, more origin load.",
        "Serve fingerprinted assets with Cache-Control: public, max-age=31536000, immutable.",
    ),
    Rule(
        "web.html_cached_with_cookies",
        H,
        "Publicly cacheable page sets cookies",
        "A shared cache can hand one visitor's session cookie to another.",
        "Send Cache-Control: private or no-store on responses that set cookies.",
    ),
    Rule(
        "edge.none",
        M,
        "No CDN or WAF in front",
        "The origin takes every request and attack directly, with no cache or filtering.",
        "Put a CDN/WAF (Cloudflare, CloudFront, Fastly, ...) in front of the origin.",
    ),
    # Email
    Rule(
        "email.mx_missing",
        M,
        "No MX record",
        "Mail to the domain (replies, bounces, postmaster) is lost.",
        "Publish MX records, or a null MX (0 .) if the domain takes no mail.",
    ),
    Rule(
        "email.spf_missing",
        H,
        "No SPF record",
        "Receivers cannot tell your mail from forged mail; password resets land in spam.",
        "Publish one TXT record v=spf1 with your senders and ~all or -all.",
    ),
    Rule(
        "email.spf_invalid",
        H,
        "SPF record is broken",
        "Receivers treat a broken SPF record as a permanent error and ignore it.",
        "Publish exactly one valid v=spf1 record within 10 DNS lookups.",
    ),
    Rule(
        "email.spf_weak",
        H,
        "SPF lets anyone send",
        "A neutral or +all policy lets anyone send as the domain.",
        "End the record with ~all or -all.",
    ),
    Rule(
        "email.dmarc_missing",
        H,
        "No DMARC record",
        "Nothing tells receivers to reject forged mail, and you get no reports.",
        "Publish _dmarc TXT v=DMARC1; p=quarantine; rua=mailto:... and tighten to reject.",
    ),
    Rule(
        "email.dmarc_invalid",
        H,
        "DMARC record is broken",
        "Receivers ignore a DMARC record they cannot parse.",
        "Publish one record that starts v=DMARC1; p=...",
    ),
    Rule(
        "email.dmarc_weak",
        M,
        "DMARC does not enforce",
        "p=none (or a partial pct) only monitors: forged mail is still delivered.",
        "Move to p=quarantine, then p=reject, once reports look clean.",
    ),
    Rule(
        "email.dmarc_no_reports",
        L,
        "DMARC sends no reports",
        "Without rua= nobody sees who sends as the domain.",
        "Add rua=mailto:dmarc-reports@your-domain.",
    ),
    Rule(
        "email.dkim_missing",
        M,
        "No DKIM key found",
        "Mail is not signed, so DMARC passes only on SPF, which breaks on forwarding.",
        "Turn on DKIM signing at your mail provider and publish its selector.",
    ),
    Rule(
        "email.dkim_invalid",
        M,
        "DKIM key broken or weak",
        "Signatures made with this key fail or can be forged.",
        "Publish a valid key of at least 2048 bits (RSA) or ed25519.",
    ),
    Rule(
        "email.provider_not_in_spf",
        M,
        "Mail provider not in SPF",
        "Mail sent through the provider your MX or DKIM points at fails SPF.",
        "Add the provider's include: to the SPF record.",
    ),
    Rule(
        "email.lookup_failed",
        M,
        "Email records could not be read",
        "The DNS server failed to answer, so email authentication could not be judged.",
        "Check the domain's DNS servers answer TXT queries.",
    ),
    # Performance
    Rule(
        "perf.p95_over_budget",
        H,
        "p95 latency over 500 ms",
        "Slow pages lose visitors and conversions; launch traffic makes it worse.",
        "Cache at the edge, profile the slow route, or add capacity before launch.",
    ),
    Rule(
        "perf.errors_over_budget",
        H,
        "Error ratio over 1 %",
        "Visitors hit errors (5xx or timeouts) on a route that must work at launch.",
        "Find the failing requests in the app's logs and fix them before launch.",
    ),
    # Code
    Rule(
        "repo.secret_committed",
        B,
        "Secret committed to the repository",
        "Anyone with the repository, or any old clone of it, has the credential.",
        "Rotate the secret now, then remove it from the code and keep it in a secret store.",
    ),
    Rule(
        "repo.env_file_committed",
        B,
        "A .env file is committed",
        "Environment files hold production credentials and outlive their deletion in history.",
        "Rotate what it holds, delete it, and add .env to .gitignore.",
    ),
    Rule(
        "repo.private_key_committed",
        B,
        "A private key is committed",
        "The key lets anyone impersonate your servers or sign as you.",
        "Revoke and replace the key, then remove it from the repository.",
    ),
)

RULES: dict[str, Rule] = {rule.id: rule for rule in _RULES}
"""Every finding id -> its rule."""
