package io.fluxgate.security;

import java.time.Instant;
import java.util.Collection;
import java.util.Map;

import org.springframework.security.oauth2.core.OAuth2Error;
import org.springframework.security.oauth2.core.OAuth2ErrorCodes;
import org.springframework.security.oauth2.core.OAuth2TokenValidator;
import org.springframework.security.oauth2.core.OAuth2TokenValidatorResult;
import org.springframework.security.oauth2.jwt.Jwt;
import org.springframework.security.oauth2.jwt.JwtClaimNames;

/**
 * The claims a token must carry, each of the type and range {@link TokenService} writes: a signed
 * token is still input, and one with a claim we would not have written is refused (401) before
 * anything reads it, rather than failing later as a server error. {@link Caller#fromJwt} relies on it.
 *
 * <ul>
 * <li>{@code sub}: a user id, a positive decimal number that fits 64 bits, written plainly (no sign,
 * no leading zero, no spaces);</li>
 * <li>{@code roles}: an array of known role names;</li>
 * <li>{@code ver}: a whole number from 0 to 2^63-1;</li>
 * <li>{@code exp}: present, and after {@code iat} (the default validators check both against the
 * clock).</li>
 * </ul>
 */
final class TokenClaims implements OAuth2TokenValidator<Jwt> {

    private static final String MAX_ID = Long.toString(Long.MAX_VALUE);
    private static final int MAX_ID_DIGITS = MAX_ID.length();
    private static final OAuth2TokenValidatorResult UNEXPECTED = OAuth2TokenValidatorResult.failure(
            new OAuth2Error(OAuth2ErrorCodes.INVALID_TOKEN, "The token's claims are not ones this service issues", null));

    @Override
    public OAuth2TokenValidatorResult validate(Jwt jwt) {
        Map<String, Object> claims = jwt.getClaims();
        boolean valid = isUserId(claims.get(JwtClaimNames.SUB))
                && isRoles(claims.get(TokenService.ROLES_CLAIM))
                && isVersion(claims.get(TokenService.VERSION_CLAIM))
                && claims.get(JwtClaimNames.EXP) instanceof Instant expiry
                && !(claims.get(JwtClaimNames.IAT) instanceof Instant issued && !issued.isBefore(expiry));
        return valid ? OAuth2TokenValidatorResult.success() : UNEXPECTED;
    }

    /** A positive long written as plain digits: what {@code Long.toString} gives for an id. */
    static boolean isUserId(Object subject) {
        if (!(subject instanceof String text) || text.isEmpty() || text.length() > MAX_ID_DIGITS
                || text.charAt(0) == '0') {
            return false;
        }
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c < '0' || c > '9') {
                return false;
            }
        }
        // Nineteen digits may still exceed Long.MAX_VALUE; compared as text, both being 19 digits long.
        return text.length() < MAX_ID_DIGITS || text.compareTo(MAX_ID) <= 0;
    }

    private static boolean isRoles(Object roles) {
        if (!(roles instanceof Collection<?> names) || names.size() > TokenService.ROLES.size()) {
            return false;
        }
        for (Object name : names) {
            if (!(name instanceof String role) || !TokenService.ROLES.contains(role)) {
                return false;
            }
        }
        return true;
    }

    /** Integral JSON numbers arrive as Integer or Long; anything else (text, fractions, overflow) is not ours. */
    private static boolean isVersion(Object version) {
        return (version instanceof Long || version instanceof Integer) && ((Number) version).longValue() >= 0;
    }
}
