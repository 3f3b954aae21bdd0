package io.fluxgate.security;

import java.util.Optional;

import com.github.benmanes.caffeine.cache.AsyncCache;
import com.github.benmanes.caffeine.cache.Caffeine;
import reactor.core.publisher.Mono;

import org.springframework.stereotype.Component;

/**
 * Whether a signed, unexpired token still holds: its user exists, is not suspended, and has not had
 * its token version bumped since (suspension, a role taken away and a password change bump it, see
 * the V4 migration). Standings are read through a small in-process cache that trusts an answer for
 * {@code fluxgate.security.revocation-check-interval}, so a revocation made on any replica bites
 * everywhere within that interval, at the cost of one primary-key read per user per interval.
 */
@Component
public class TokenRevocation {

    private final UserStandings standings;
    private final AsyncCache<Long, Optional<UserStandings.Standing>> cache;

    public TokenRevocation(UserStandings standings, SecurityProperties properties) {
        this.standings = standings;
        this.cache = Caffeine.newBuilder()
                .expireAfterWrite(properties.revocationCheckInterval())
                .maximumSize(100_000)
                .buildAsync();
    }

    /** True while the caller's token holds; a failure to read the standing is an error, never a yes. */
    public Mono<Boolean> holds(Caller caller) {
        return Mono.fromFuture(() -> cache.get(caller.id(),
                        (id, executor) -> standings.find(id).map(Optional::of).defaultIfEmpty(Optional.empty()).toFuture()),
                        true)
                .map(standing -> standing.filter(s -> !s.suspended() && s.tokenVersion() == caller.tokenVersion())
                        .isPresent());
    }

    /** Forgets what is known of a user, after this replica changed it: the next check reads afresh. */
    public void forget(long userId) {
        cache.synchronous().invalidate(userId);
    }
}
