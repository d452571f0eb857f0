"""The wallboard page: one self-contained HTML document (no external request), French labels,
large type for a wall screen read from 3 m, colour always doubled by text.

The script opens `/events` (server-sent events) and rewrites the table from each snapshot with
`textContent` only. Without a snapshot for 5 s it says so on screen ("mise à jour interrompue")
and EventSource reconnects by itself. `CSP` allows exactly this inline style and script.
"""

from __future__ import annotations

import base64
import hashlib

STYLE = """
*{box-sizing:border-box}
html,body{margin:0;height:100%;background:#0d1117;color:#f0f3f6;
 font-family:"DejaVu Sans","Liberation Sans",Arial,sans-serif;font-size:min(1.55vw,2.95vh)}
body{display:flex;flex-direction:column;padding:.4em .6em}
header{display:flex;align-items:baseline;gap:1em}
h1{font-size:1.25em;margin:0;font-weight:700}
#clock{font-size:1.25em;font-variant-numeric:tabular-nums;margin-left:auto}
#status{font-size:.8em;padding:.1em .5em;border-radius:.3em;background:#1f6f3f}
#status.down{background:#b3261e}
#banner{display:none;margin:.2em 0;padding:.2em .5em;background:#b3261e;font-weight:700}
body.stale #banner,body.down #banner{display:block}
table{width:100%;border-collapse:collapse;font-variant-numeric:tabular-nums;margin-top:.3em}
th{font-size:.7em;font-weight:400;color:#aeb8c4;text-align:right;padding:.1em .35em;
 vertical-align:bottom;line-height:1.15}
th:first-child,td:first-child{text-align:left}
td{text-align:right;padding:.12em .35em;border-top:1px solid #2b3440;white-space:nowrap}
tbody tr:nth-child(odd){background:#141b24}
tr.city td{font-size:1.12em;font-weight:700;background:#1c2633;border-top:0}
td.name{font-weight:700;max-width:11.5em;overflow:hidden;text-overflow:ellipsis}
td.ring{min-width:7.2em}
td.ring b{display:inline-block;min-width:2.8em}
td.ring small{font-size:.62em;font-weight:700;letter-spacing:.03em;margin-left:.3em;
 padding:.05em .3em;border-radius:.25em;vertical-align:middle}
td.ring.warn{background:#e8890c;color:#111}
td.ring.late{background:#c62828;color:#fff}
td.ring.warn small,td.ring.late small{border:2px solid currentColor}
td.rate{font-weight:700}
.muted{color:#7d8896}
footer{margin-top:auto;font-size:.6em;color:#aeb8c4;padding-top:.3em}
"""

SCRIPT = """
const LEVEL={none:"",ok:"",warn:"attention",late:"hors délai"};
const fr=new Intl.NumberFormat("fr-FR",{minimumFractionDigits:1,maximumFractionDigits:1});
function pct(v){return v===null||v===undefined?"—":fr.format(v*100)+" %";}
function secs(v){if(v<60)return Math.floor(v)+" s";const m=Math.floor(v/60),s=Math.floor(v%60);
 return m+" min "+String(s).padStart(2,"0");}
function cell(tr,cls){const td=document.createElement("td");td.className=cls;tr.appendChild(td);return td;}
const COLS=["name","ringing","ring","waiting","offered","answered","within","abandoned","rate",
 "hour","agents"];
function makeRow(tr){const c={};for(const k of COLS)c[k]=cell(tr,k);return c;}
function fill(c,r){
 c.name.textContent=r.name;
 c.ringing.textContent=r.ringing;
 c.ring.className="ring "+r.level;
 c.ring.replaceChildren();
 if(r.ringing){const b=document.createElement("b");b.textContent=secs(r.longest_ring);
  c.ring.appendChild(b);
  if(LEVEL[r.level]){const s=document.createElement("small");s.textContent=LEVEL[r.level];
   c.ring.appendChild(s);}}
 else{c.ring.textContent="—";}
 c.waiting.textContent=r.waiting;
 c.offered.textContent=r.offered;
 c.answered.textContent=r.answered;
 c.within.textContent=r.answered_within;
 c.abandoned.textContent=r.abandoned;
 c.rate.textContent=pct(r.pickup_rate);c.rate.className="rate";
 c.hour.textContent=r.hour_n?pct(r.hour_pickup_rate):"—";
 c.agents.textContent=r.agents_logged===null?"—":r.agents_free+" / "+r.agents_logged;
}
const rows=new Map();let city=null;let last=0;
function render(s){
 last=Date.now();document.body.classList.remove("stale");
 document.getElementById("clock").textContent=s.clock;
 const down=s.pbx.filter(p=>!p.connected).map(p=>p.name);
 const st=document.getElementById("status");
 st.textContent=down.length?"PBX déconnecté":"PBX connecté";st.className=down.length?"down":"";
 document.body.classList.toggle("down",down.length>0);
 document.getElementById("banner").textContent=down.length?
  "Connexion au PBX perdue ("+down.join(", ")+") : appels en cours non affichés.":
  "Mise à jour interrompue : reconnexion…";
 if(!city){city=makeRow(document.getElementById("city"));}
 fill(city,s.city);
 const body=document.getElementById("sites");
 for(const r of s.sites){let c=rows.get(r.id);
  if(!c){const tr=document.createElement("tr");tr.id="site-"+r.id;body.appendChild(tr);
   c=makeRow(tr);rows.set(r.id,c);}
  fill(c,r);}
 document.getElementById("updated").textContent=s.clock;
}
function connect(){const es=new EventSource("events");
 es.onmessage=e=>render(JSON.parse(e.data));}
setInterval(()=>{if(Date.now()-last>5000){document.body.classList.add("stale");
 if(!document.body.classList.contains("down"))document.getElementById("banner").textContent=
 "Mise à jour interrompue : reconnexion…";}},1000);
connect();
"""

BODY = """<header><h1>Standards des EPS — décroché en moins de {threshold} s</h1>
<span id="status">…</span><span id="clock">--:--:--</span></header>
<div id="banner" role="alert"></div>
<table>
<thead><tr><th>Site</th><th>Appels qui sonnent</th><th>Sonnerie la plus longue</th>
<th>Appels en attente</th><th>Reçus</th><th>Décrochés</th><th>&lt;&nbsp;{threshold}&nbsp;s</th>
<th>Abandons</th><th>Taux de décroché</th><th>Dernière heure</th>
<th>Agents libres / connectés</th></tr>
<tr class="city" id="city"></tr></thead>
<tbody id="sites"></tbody>
</table>
<footer>Aujourd'hui, heures d'ouverture, appels de test exclus. Taux de décroché = décrochés
par une personne en moins de {threshold} s / (reçus − abandons de moins de 5 s). Sonnerie :
orange « attention » dès 15 s, rouge « hors délai » dès {threshold} s.
Mise à jour : <span id="updated">—</span>.</footer>"""


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


CSP = (f"default-src 'none'; script-src {_hash(SCRIPT)}; style-src {_hash(STYLE)}; "
       "connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; "
       "frame-ancestors 'none'")


def page(threshold: float = 25.0) -> bytes:
    """The whole document."""
    shown = f"{threshold:g}"
    return (f'<!doctype html><html lang="fr"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>Standards des EPS — qualiphone</title><style>{STYLE}</style></head>"
            f"<body>{BODY.format(threshold=shown)}<script>{SCRIPT}</script></body></html>"
            ).encode()
