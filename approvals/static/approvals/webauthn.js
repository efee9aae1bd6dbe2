// WebAuthn in the browser: turn the server's JSON options (base64url) into what
// navigator.credentials wants, and the credential back into JSON for py_webauthn.
(function () {
  "use strict";
  function toBytes(b64url) {
    const b64 = b64url.replace(/-/g, "+").replace(/_/g, "/");
    const bin = atob(b64 + "===".slice((b64.length + 3) % 4));
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  }
  function toB64url(buf) {
    let bin = "";
    new Uint8Array(buf).forEach((b) => { bin += String.fromCharCode(b); });
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function csrf() { return document.getElementById("csrf").value; }
  async function post(url, body) {
    const res = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRFToken": csrf(), "Content-Type": "application/json" },
      body: body === undefined ? "{}" : JSON.stringify(body),
    });
    return { ok: res.ok, json: await res.json() };
  }
  function say(text) { document.getElementById("message").textContent = text; }
  function descriptors(list) {
    return (list || []).map((d) => ({ ...d, id: toBytes(d.id) }));
  }
  function credentialJson(cred) {
    const r = cred.response, out = { id: cred.id, rawId: toB64url(cred.rawId), type: cred.type,
      clientExtensionResults: cred.getClientExtensionResults(), response: {
        clientDataJSON: toB64url(r.clientDataJSON) } };
    if (r.attestationObject) {
      out.response.attestationObject = toB64url(r.attestationObject);
      out.response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      out.response.authenticatorData = toB64url(r.authenticatorData);
      out.response.signature = toB64url(r.signature);
      if (r.userHandle) out.response.userHandle = toB64url(r.userHandle);
    }
    return out;
  }
  const enrol = document.getElementById("enrol");
  if (enrol) enrol.addEventListener("click", async () => {
    try {
      const opts = (await post(enrol.dataset.options)).json;
      opts.challenge = toBytes(opts.challenge);
      opts.user.id = toBytes(opts.user.id);
      opts.excludeCredentials = descriptors(opts.excludeCredentials);
      const cred = await navigator.credentials.create({ publicKey: opts });
      const res = await post(enrol.dataset.register, credentialJson(cred));
      if (res.ok) { window.location.reload(); } else { say("The passkey was not accepted."); }
    } catch (e) { say("No passkey was created."); }
  });
  const approve = document.getElementById("approve");
  if (approve) approve.addEventListener("click", async () => {
    try {
      const got = await post(approve.dataset.options);
      if (!got.ok) { say("This request can no longer be approved."); return; }
      const opts = got.json;
      opts.challenge = toBytes(opts.challenge);
      opts.allowCredentials = descriptors(opts.allowCredentials);
      const cred = await navigator.credentials.get({ publicKey: opts });
      const res = await post(approve.dataset.approve, credentialJson(cred));
      if (res.ok) { window.location.reload(); } else { say("The approval was refused."); }
    } catch (e) { say("The passkey check did not complete."); }
  });
})();
