"""After-hours and closure message checks (referential engagement 1).

* `passive`: from the calls in the store, were after-hours calls answered by the site's message?
* `probe`: test calls through AMI Originate, recorded by the PBX, compared with the site's
  reference recording (`audio`, `similarity`, `references`), stored (`models`, `repository`),
  with an alert after two failures in a row (`alerts`).
* `report`: the monthly after-hours report (French, PDF/HTML) and the section the monthly
  traffic statement embeds.
"""
