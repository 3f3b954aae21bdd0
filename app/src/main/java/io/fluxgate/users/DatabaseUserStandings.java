package io.fluxgate.users;

import io.fluxgate.security.UserStandings;
import reactor.core.publisher.Mono;

import org.springframework.stereotype.Component;

/** Users' standings for token revocation, read from the users table by primary key. */
@Component
class DatabaseUserStandings implements UserStandings {

    private final UserRepository users;

    DatabaseUserStandings(UserRepository users) {
        this.users = users;
    }

    @Override
    public Mono<Standing> find(long userId) {
        return users.findStanding(userId);
    }
}
