package io.fluxgate.changes.delivery;

import java.time.Duration;
import java.util.function.Consumer;

import io.fluxgate.changes.hub.ChangeFrames;
import io.fluxgate.security.Caller;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * {@code {"type":"auth","token":...}}: a session takes a fresh token of the same user without
 * reconnecting. While it is checked the session waits; a bad token, or one of another user, changes
 * nothing and answers an error frame.
 */
final class TokenSwap {

    private static final Duration VERIFY_TIMEOUT = Duration.ofSeconds(5);
    private static final int MAX_TOKEN_LENGTH = 8192;

    private TokenSwap() {
    }

    /**
     * Stateless, so no session holds one.
     *
     * @param accepted takes the new caller (same user, checked) before {@code auth_ok} is sent
     */
    static Flux<Outbound> swap(Authority authority, ChangeFrames frames, String token, Caller current,
            Consumer<Caller> accepted) {
        if (token.isEmpty() || token.length() > MAX_TOKEN_LENGTH) {
            return Flux.just(frames.error("Invalid token", null, null));
        }
        return authority.verify(token)
                .timeout(VERIFY_TIMEOUT)
                .map(next -> {
                    if (next.id() != current.id()) {
                        return frames.error("Invalid token", null, "The token is for another user");
                    }
                    accepted.accept(next);
                    return frames.authOk(next.expiresAt());
                })
                .onErrorResume(invalid -> Mono.just(frames.error("Invalid token", null, null)))
                .cast(Outbound.class)
                .flux();
    }
}
