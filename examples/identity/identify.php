<?php
// Your backend proves a signed-in customer to shopwindow (PHP 7+, no extensions needed).
// Render the call into the page the customer gets after signing in.

function shopwindow_user_hash(string $identitySecret, string $customerId): string {
    return hash_hmac('sha256', $customerId, $identitySecret);
}

function shopwindow_identity_token(string $identitySecret, string $customerId, int $lifetime = 600): string {
    $expires = time() + $lifetime; // at most a day ahead
    return $expires . '.' . hash_hmac('sha256', $customerId . "\n" . $expires, $identitySecret);
}

$secret = getenv('SHOPWINDOW_IDENTITY_SECRET'); // never in the page, never in git
$customerId = 'C-104233'; // the signed-in customer, from your session
$proof = ['user_hash' => shopwindow_user_hash($secret, $customerId)];
// or: $proof = ['token' => shopwindow_identity_token($secret, $customerId)];
$args = json_encode($customerId, JSON_HEX_TAG) . ', ' . json_encode($proof, JSON_HEX_TAG);
echo "<script>shopwindow.identify($args)</script>\n";
