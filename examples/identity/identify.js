// Your backend proves a signed-in customer to shopwindow (Node.js, built-in crypto only).
// Render the call into the page the customer gets after signing in.
"use strict";
const crypto = require("crypto");

function userHash(identitySecret, customerId) {
  return crypto.createHmac("sha256", identitySecret).update(customerId).digest("hex");
}

function identityToken(identitySecret, customerId, lifetime = 600) {
  const expires = Math.floor(Date.now() / 1000) + lifetime; // at most a day ahead
  const tag = crypto.createHmac("sha256", identitySecret).update(`${customerId}\n${expires}`).digest("hex");
  return `${expires}.${tag}`;
}

function identifyScript(identitySecret, customerId, { token = false } = {}) {
  const proof = token
    ? { token: identityToken(identitySecret, customerId) }
    : { user_hash: userHash(identitySecret, customerId) };
  const args = [customerId, proof].map((v) => JSON.stringify(v).replace(/</g, "\\u003c"));
  return `<script>shopwindow.identify(${args.join(", ")})</script>`;
}

module.exports = { userHash, identityToken, identifyScript };

if (require.main === module) {
  // SHOPWINDOW_IDENTITY_SECRET=... node identify.js C-104233 [--token]
  const secret = process.env.SHOPWINDOW_IDENTITY_SECRET; // never in the page, never in git
  console.log(identifyScript(secret, process.argv[2], { token: process.argv.includes("--token") }));
}
