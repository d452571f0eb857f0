"""The wallboard page: one self-contained HTML document (no external request), French labels,
large type for a wall screen read from 3 m, colour always doubled by text: a rate below the goal
is red and says "sous l'objectif", a rate on fewer than 10 calls is grey, not bold, with its n
beside it; calls the site directory cannot classify are counted apart ("répertoire incomplet").

The script opens `/events` (server-sent events) and rewrites the table from each snapshot with
`textContent` only. Without a snapshot for 5 s it says so on screen ("mise à jour interrompue")
and EventSource reconnects by itself. `CSP` allows exactly this inline style and script.
"""

from __future__ import annotations

import base64
import hashlib

# Widths in em of the root font: they sum to --w in STYLE (with the page's margins). They are set
# for DejaVu Sans Condensed; with a wider font the script shrinks the board rather than cut a
# figure (the browser test checks that no cell overflows, with either font).
COLUMNS = (("name", 8.4), ("ringing", 2.9), ("ring", 8.2), ("waiting", 3.1), ("offered", 3.0),
           ("answered", 3.8), ("within", 3.0), ("abandoned", 3.9), ("uncl", 6.6),
           ("rate", 8.4), ("n", 2.5), ("hour", 8.4), ("hour_n", 2.5), ("agents", 4.9))

# Every size is in em of the root font, which is the largest that lets the 14 columns fit the
# width (--w em) and every row fit the height (--rows rows of ~1.45 em, plus the title, column
# heads and footer): the board fills a 16:9 screen at any resolution, and rows stretch to fill
# what is left. The script sets --rows to the number of sites shown.
STYLE = """
*{box-sizing:border-box}
html{--w:WIDTH;--rows:18;--k:1;height:100%;overflow:hidden;background:#0d1117;color:#f0f3f6;
 font-family:"DejaVu Sans Condensed","Liberation Sans Narrow","Arial Narrow",Arial,sans-serif;
 font-size:calc(var(--k) * min(100vw / var(--w),100vh / (var(--rows) * 1.45 + 6.2)))}
body{margin:0;height:100%;display:flex;flex-direction:column;padding:.25em .4em}
header{display:flex;align-items:center;gap:.8em;white-space:nowrap}
h1{font-size:1.2em;margin:0;font-weight:700}
#goal{font-size:.8em;color:#aeb8c4}
#date{margin-left:auto;font-size:1.1em;font-weight:700}
#clock{font-size:1.1em;font-variant-numeric:tabular-nums;font-weight:700}
#status{font-size:.7em;padding:.1em .5em;border-radius:.3em;background:#1f6f3f}
#status.down{background:#b3261e}
#banner{display:none;margin:.15em 0;padding:.15em .5em;background:#b3261e;font-weight:700}
body.stale #banner,body.down #banner{display:block}
#board{flex:1 1 auto;min-height:0;margin-top:.2em}
table{width:100%;height:100%;table-layout:fixed;border-collapse:collapse;
 font-variant-numeric:tabular-nums}
th{font-size:.62em;font-weight:400;color:#aeb8c4;text-align:right;padding:0 .4em .15em;
 vertical-align:bottom;line-height:1.1;height:1em}
th:first-child,td:first-child{text-align:left}
td{text-align:right;padding:0 .25em;border-top:1px solid #2b3440;white-space:nowrap;
 overflow:hidden;text-overflow:ellipsis}
tbody tr:nth-child(odd){background:#141b24}
tbody td,tr.city td{height:1.5em}
tr.city td{font-weight:700;background:#1c2633;border-top:0;border-bottom:3px solid #3a4656}
td.name{font-weight:700}
td b{font-weight:700}
small.tag{display:inline-block;font-size:.5em;font-weight:700;line-height:1.05;
 white-space:normal;text-align:center;border:2px solid currentColor;border-radius:.3em;
 padding:.1em .25em;margin-left:.35em;vertical-align:middle;width:6.4em}
td.ring small.tag{width:auto;white-space:nowrap}
td.ring.warn{background:#e8890c;color:#111}
td.ring.late{background:#c62828;color:#fff}
td.rate{font-weight:700}
td.rate.below{background:#b3261e;color:#fff}
td.rate.hour.below{background:none;color:#ff7b6e}
td.rate.few{font-weight:400;color:#8b96a3;background:none}
td.rate.few b{font-weight:400}
td.rate.few.below small.tag{color:#e57368}
td.n{font-size:.8em;color:#aeb8c4}
td.uncl{color:#7d8896}
td.uncl.incomplete{background:#6a3fb5;color:#fff;font-weight:700}
td.uncl small.now{font-size:.7em;margin-left:.2em}
.muted{color:#7d8896}
footer{font-size:.58em;color:#aeb8c4;padding-top:.25em;line-height:1.25}
""".replace("WIDTH", f"{sum(em for _, em in COLUMNS) + 0.9:.1f}") + "".join(
    f"col.{name}{{width:{em}em}}" for name, em in COLUMNS)

SCRIPT = """
const LEVEL={none:"",ok:"",warn:"attention",late:"hors délai"};
const fr=new Intl.NumberFormat("fr-FR",{minimumFractionDigits:1,maximumFractionDigits:1});
function pct(v){return v===null||v===undefined?"—":fr.format(v*100)+" %";}
function secs(v){if(v<60)return Math.floor(v)+" s";const m=Math.floor(v/60),s=Math.floor(v%60);
 return m+" min "+String(s).padStart(2,"0");}
function el(tag,cls,text){const e=document.createElement(tag);if(cls)e.className=cls;
 if(text!==undefined)e.textContent=text;return e;}
const COLS=["name","ringing","ring","waiting","offered","answered","within","abandoned","uncl",
 "rate","n","hour","hour_n","agents"];
function makeRow(tr){const c={};for(const k of COLS){c[k]=el("td",k);tr.appendChild(c[k]);}
 return c;}
function rate(td,value,n,below,few,name){
 td.className=name+(value===null?" none":"")+(below?" below":"")+(few?" few":"");
 td.replaceChildren(el("b","",pct(value)));
 if(below)td.appendChild(el("small","tag","sous l'objectif"));}
function fill(c,r){
 c.name.textContent=r.short_name;
 c.ringing.textContent=r.ringing;
 c.ring.className="ring "+r.level;
 c.ring.replaceChildren();
 if(r.ringing){c.ring.appendChild(el("b","",secs(r.longest_ring)));
  if(LEVEL[r.level])c.ring.appendChild(el("small","tag",LEVEL[r.level]));}
 else{c.ring.textContent="—";}
 c.waiting.textContent=r.waiting;
 c.offered.textContent=r.offered;
 c.answered.textContent=r.answered;
 c.within.textContent=r.answered_within;
 c.abandoned.textContent=r.abandoned;
 c.uncl.className="uncl"+(r.directory_incomplete?" incomplete":"");
 c.uncl.replaceChildren(r.directory_incomplete?el("b","",r.unclassified):r.unclassified);
 if(r.unclassified_now)c.uncl.appendChild(el("small","now","+"+r.unclassified_now));
 if(r.directory_incomplete)c.uncl.appendChild(el("small","tag","répertoire incomplet"));
 rate(c.rate,r.pickup_rate,r.pickup_n,r.pickup_below,r.pickup_few,"rate");
 c.n.textContent=r.pickup_n;
 rate(c.hour,r.hour_n?r.hour_pickup_rate:null,r.hour_n,r.hour_below,r.hour_few,"rate hour");
 c.hour_n.textContent=r.hour_n;
 c.agents.textContent=r.agents_logged===null?"—":r.agents_free+" / "+r.agents_logged;
}
const rows=new Map();let city=null;let last=0;
function render(s){
 last=Date.now();document.body.classList.remove("stale");
 document.getElementById("clock").textContent=s.clock;
 document.getElementById("date").textContent=s.date_text;
 document.getElementById("goal").textContent="objectif "+Math.round(s.goal*100)+" %";
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
 if(s.sites.length+1!==shown){shown=s.sites.length+1;ROOT.style.setProperty("--rows",shown);
  scale=1;}
 document.getElementById("updated").textContent=s.clock;
 document.getElementById("goal-text").textContent=Math.round(s.goal*100)+" %";
 document.getElementById("min-n").textContent=s.min_n;
 fit();
}
// A font wider than the ones the widths were set for (another machine's) must not cut a
// figure: shrink the whole board until no cell overflows; start again on resize.
const ROOT=document.documentElement;let scale=1,shown=0;
function overflowing(){return ROOT.scrollHeight>innerHeight+1||ROOT.scrollWidth>innerWidth+1||
 [...document.querySelectorAll("#board td,#board th,header")].some(e=>e.scrollWidth>e.clientWidth+1);}
function fit(){ROOT.style.setProperty("--k",scale);
 for(let i=0;i<25&&overflowing();i++){scale*=0.97;ROOT.style.setProperty("--k",scale);}}
addEventListener("resize",()=>{scale=1;fit();});
function connect(){const es=new EventSource("events");
 es.onmessage=e=>render(JSON.parse(e.data));}
setInterval(()=>{if(Date.now()-last>5000){document.body.classList.add("stale");
 if(!document.body.classList.contains("down"))document.getElementById("banner").textContent=
 "Mise à jour interrompue : reconnexion…";}},1000);
connect();
"""

BODY = """<header><h1>Standards des EPS — décroché en moins de {threshold} s</h1>
<span id="goal"></span><span id="status">…</span>
<span id="date">…</span><span id="clock">--:--:--</span></header>
<div id="banner" role="alert"></div>
<div id="board"><table>
<colgroup>{cols}</colgroup>
<thead><tr><th>Site</th><th>Sonnent</th><th>Plus longue sonnerie</th><th>En attente</th>
<th>Reçus</th><th>Décrochés</th><th>&lt;&nbsp;{threshold}&nbsp;s</th><th>Abandons</th>
<th>À classer</th><th>Taux de décroché du jour</th><th>n</th><th>Dernière heure</th><th>n</th>
<th>Agents libres / connectés</th></tr>
<tr class="city" id="city"></tr></thead>
<tbody id="sites"></tbody>
</table></div>
<footer>Aujourd'hui, heures d'ouverture, appels de test exclus. Taux de décroché = décrochés
par une personne en moins de {threshold} s / n, n = reçus − abandons de moins de 5 s − appels
à classer. « Sous l'objectif » : taux inférieur à <span id="goal-text">…</span> ; en gris : moins
de <span id="min-n">…</span> appels, trop peu pour juger. À classer : décrochés par un poste ou
une machine que le répertoire des sites ne connaît pas (+ en cours) : ni décrochés, ni abandons,
hors du taux. Sonnerie : orange « attention » dès 15 s, rouge « hors délai » dès {threshold} s.
Mise à jour : <span id="updated">—</span>.</footer>"""


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


CSP = (f"default-src 'none'; script-src {_hash(SCRIPT)}; style-src {_hash(STYLE)}; "
       "connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; "
       "frame-ancestors 'none'")


def page(threshold: float = 25.0) -> bytes:
    """The whole document."""
    shown = f"{threshold:g}"
    cols = "".join(f'<col class="{name}">' for name, _ in COLUMNS)
    return (f'<!doctype html><html lang="fr"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>Standards des EPS — qualiphone</title><style>{STYLE}</style></head>"
            f"<body>{BODY.format(threshold=shown, cols=cols)}<script>{SCRIPT}</script></body></html>"
            ).encode()
