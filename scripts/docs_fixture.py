"""A generated Docusaurus-style docs site (our own text) with the dialects real sites use.

    python -m scripts.docs_fixture OUT_FOLDER

Writes `OUT_FOLDER/docs/` for "Lumen Analytics", a made-up web analytics product: MDX with
ESM imports/exports, JSX components (with prose props and text children), Docusaurus
admonitions, MkDocs admonitions, a Hugo page with TOML front matter and shortcodes, front
matter (title, description, tags, slug), tables, code blocks, a 1,700-character bookmarklet
URL, a base64 image, JSON-LD in `<head>`, HTML comments and `{#id}` heading anchors.
Tests and scripts/bench_answers.py use it; nothing here is copied from a real site.
"""

from __future__ import annotations

import base64
import sys
from pathlib import Path

# Routes a Docusaurus site would serve for each file (relative to the site's docs base URL).
ROUTES = {
    "index.mdx": "",
    "01-getting-started/01-install.mdx": "getting-started/install",
    "01-getting-started/02-verify.md": "getting-started/verify",
    "billing.mdx": "pricing",  # absolute slug
    "integrations/README.md": "integrations",
    "integrations/okta-sso.mdx": "integrations/okta-sso",
    "integrations/wordpress.mdx": "integrations/wp",  # relative slug
    "bookmarklet.md": "bookmarklet",
    "faq.mdx": "faq",
    "privacy.md": "privacy",
    "hugo-page.md": "hugo-page",
}


def _bookmarklet(length: int = 1700) -> str:
    """A bookmarklet URL of exactly `length` characters: one unbroken token, parens balanced."""
    head, tail = "javascript:(function()%7B", "%7D)()"
    body = ""
    for i in range(100):
        piece = (
            f"var%20s{i}%3Ddocument.createElement(%22script%22)%3Bs{i}.src%3D%22https%3A%2F%2F"
            f"lumen.example%2Fjs%2Fcheck{i}.js%22%3Bdocument.body.appendChild(s{i})%3B"
        )
        if len(head) + len(body) + len(piece) + len(tail) > length:
            break
        body += piece
    body += "0" * (length - len(head) - len(body) - len(tail))
    return head + body + tail


def _base64_image() -> str:
    return "data:image/png;base64," + base64.b64encode(bytes(range(256)) * 12).decode()


FILES: dict[str, str] = {
    "index.mdx": """---
title: Lumen Analytics documentation
description: Lumen is a lightweight, cookie-free web analytics tool that respects visitor privacy.
tags: [overview]
---
import Link from '@docusaurus/Link';
import useBaseUrl from '@docusaurus/useBaseUrl';

<head>
  <script type="application/ld+json">
    {JSON.stringify({"@context": "https://schema.org", "@type": "SoftwareApplication",
                     "name": "Lumen"})}
  </script>
</head>

# Welcome to Lumen {#welcome}

Lumen counts page views, visitors and conversions without cookies and without collecting
personal data. The tracking script weighs under 2 KB.

<img src={useBaseUrl('/img/dashboard.png')} alt="The Lumen dashboard with the visitors graph" />

<Link to="/getting-started/install">Start with the installation guide</Link> to add Lumen to
your site in five minutes.
""",
    "01-getting-started/01-install.mdx": """---
title: Install the tracking script
description: Add one script tag to every page you want to measure.
tags: [setup]
---
import Tabs from '@theme/Tabs';
import TabItem from '@theme/TabItem';

## Add the script {#add-script}

Install the tracker package and initialise it once with your site's domain.

```bash
npm install @lumen/tracker
```

```js
lumen.init({ domain: "example.com", trackOutboundLinks: true });
```

<Tabs>
  <TabItem value="next" label="Next.js">
    In Next.js, add the script to the custom document so it loads on every route.
  </TabItem>
  <TabItem value="shopify" label="Shopify">
    In Shopify, paste the snippet into the theme.liquid file before the closing head tag.
  </TabItem>
</Tabs>

:::tip Proxy the script
Serving the script from your own domain avoids most ad blockers.
:::

:::caution
The script does not track visitors who block JavaScript.
:::
""",
    "01-getting-started/02-verify.md": """---
title: Verify your installation
---

# Verify your installation {#verify}

Open your site in a private window and check the real-time view of the dashboard. A visit
appears within 30 seconds.

<!-- TODO: add a screenshot of the realtime view -->

If nothing appears after five minutes, make sure the data-domain attribute matches the site
name in your Lumen settings exactly.
""",
    "billing.mdx": """---
title: Plans and billing
description: What Lumen costs, which payment methods we accept and how invoices work.
slug: /pricing
tags: [pricing, billing]
---
import CtaBox from '@site/src/components/CtaBox';
import { PlanTable, Pill } from '@site/src/components';
export const toc = [{value: 'Plans', id: 'plans', level: 2}];

# Plans and billing {#billing}

Lumen is billed monthly or yearly; yearly billing gives two months free.

## Plans {#plans}

| Plan | Monthly price | Page views per month | Sites |
|------|---------------|----------------------|-------|
| Hobby | $9 | 10,000 | 1 |
| Business | $29 | 100,000 | 10 |
| Scale | $99 | 1,000,000 | 50 |

<Pill label="Most popular" /> The Business plan adds shared links and team members.

## Payment methods {#payment}

:::caution Wire transfers
We're not able to accept wire transfers. Pay by credit card or PayPal instead.
:::

We accept Visa, Mastercard, American Express and PayPal. Invoices are sent by email after each
payment and include your VAT number when you add one.

:::info
Prices exclude VAT. EU customers with a valid VAT number are charged no VAT.
:::

<CtaBox
  title="Start a free 30-day trial"
  description="No credit card is required for the trial."
  link={useBaseUrl('/register')}
/>

## Refunds {#refunds}

Yearly plans can be refunded within 30 days of payment. Monthly plans are not refunded, but you
can cancel at any time and keep access until the end of the period.
""",
    "integrations/README.md": """# Integrations

Lumen connects to the tools below. Each integration is included in every plan.

- Okta single sign-on
- WordPress plugin
- Google Search Console import
""",
    "integrations/okta-sso.mdx": """---
title: Single sign-on with Okta
description: Let your team sign in to Lumen with Okta using SAML.
tags: [sso, security]
---
import useBaseUrl from '@docusaurus/useBaseUrl';
import Admonition from '@theme/Admonition';

# Single sign-on with Okta {#okta}

Single sign-on with Okta is available on the Business and Scale plans. Lumen uses SAML 2.0.

<img src={useBaseUrl('/img/okta-app.png')} alt="The Lumen app in the Okta admin console" />

## Set up the Okta app {#setup}

1. In Okta, create a new SAML 2.0 application named Lumen.
2. Set the single sign-on URL to https://lumen.example/sso/saml.
3. Copy the metadata URL from Okta into Lumen under Team settings, then Security.

<Admonition type="note" title="Provisioning">
  SCIM user provisioning is not supported yet; invite new team members by email.
</Admonition>

<details>
  <summary>What happens to existing passwords?</summary>
  Once single sign-on is enforced, team members can no longer sign in with a password.
</details>
""",
    "integrations/wordpress.mdx": """---
title: WordPress plugin
slug: wp
tags: [wordpress]
---
export const Highlight = ({children, color}) => (
  <span style={{backgroundColor: color, borderRadius: '2px'}}>{children}</span>
);

# WordPress plugin

Install the official Lumen plugin from the WordPress plugin directory. It adds the tracking
script to every page and shows a stats widget in the WordPress admin.

The plugin excludes logged-in administrators from the statistics by default.
""",
    "bookmarklet.md": f"""---
title: The Lumen bookmarklet
description: Check whether a page sends data to Lumen with one click.
---

# The Lumen bookmarklet

Drag this link to your bookmarks bar: [Check Lumen]({_bookmarklet()}). Click it on any page to
see whether the tracking script is loaded.

![Bookmarklet result]({_base64_image()})

If your browser does not allow dragging links, create a bookmark with this address:

```text
{_bookmarklet()}
```

The bookmarklet only reads the page; it sends nothing to our servers.
""",
    "faq.mdx": """---
title: Frequently asked questions
description: Short answers to the questions customers ask most.
tags: [faq]
---

# Frequently asked questions

## Do you use cookies? {#cookies}

No. Lumen never sets cookies and never stores IP addresses, so you do not need a cookie banner
for Lumen.

## Where is the data stored? {#storage}

All data is stored on servers in Germany and never leaves the European Union.

## Can I import data from Google Analytics? {#import}

Yes. You can import historical data from Google Analytics 4 in the site settings. The import
runs in the background and takes up to an hour.

## Is there an API? {#api}

Yes, the Stats API is available on all plans with a limit of 600 requests per hour.

!!! warning "Rate limits"
    Requests over the limit get HTTP status 429; retry after the time in the Retry-After header.

## Do you offer discounts? {#discounts}

Registered non-profits get 50 percent off every plan. Students get the Hobby plan for free.
""",
    "privacy.md": """---
title: Privacy and compliance
tags: [privacy, security]
---

# Privacy and compliance

Lumen is compliant with GDPR, CCPA and PECR. We sign a data processing agreement with every
customer on request.

!!! note
    Visitor counts use a daily rotating salt, so a visitor cannot be followed across days.

???+ tip "Self-hosting"
    Lumen Community Edition can be self-hosted with Docker for free.
""",
    "hugo-page.md": """+++
title = "Team members"
description = "Invite colleagues and give them view or admin rights."
tags = ["team"]
+++

# Team members

Invite team members from the site settings. Every plan includes unlimited team members.

{{% notice tip "Roles" %}}
Viewers can see the dashboard; admins can also change settings and billing.
{{% /notice %}}

{{< youtube id="abc123" >}}

Removed team members lose access immediately.
""",
}


def write_docs_site(root: Path, names: list[str] | None = None) -> Path:
    """Write the site (or only the files `names`) under `root/docs`; returns that folder."""
    docs = root / "docs"
    for name, text in FILES.items():
        if names is not None and name not in names:
            continue
        path = docs / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return docs


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m scripts.docs_fixture OUT_FOLDER", file=sys.stderr)
        return 2
    print(write_docs_site(Path(args[0])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
