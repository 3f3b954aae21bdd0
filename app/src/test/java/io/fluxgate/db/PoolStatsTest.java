package io.fluxgate.db;

import java.util.ArrayList;
import java.util.List;

import io.fluxgate.support.IntegrationTest;
import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionFactory;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.beans.factory.annotation.Qualifier;

import static org.assertj.core.api.Assertions.assertThat;

class PoolStatsTest extends IntegrationTest {

    @Autowired
    ConnectionFactory primary;

    @Autowired
    @Qualifier("analyticsConnectionFactory")
    ConnectionFactory analytics;

    record Stats(int totalCount, int idleCount, int activeCount, int waitingCount, int maxSize) {
    }

    record Pools(Stats primary, Stats analytics) {
    }

    @Test
    void statisticsMoveWhenConnectionsAreHeld() {
        Account admin = admin();
        Pools before = pools(admin);
        assertThat(before.primary().maxSize()).isEqualTo(20);
        assertThat(before.analytics().maxSize()).isEqualTo(20);

        List<Connection> held = new ArrayList<>();
        held.addAll(Flux.range(0, 3).flatMap(i -> Mono.from(primary.create())).collectList().block());
        held.addAll(Flux.range(0, 2).flatMap(i -> Mono.from(analytics.create())).collectList().block());
        try {
            Pools during = pools(admin);
            // The request itself holds one primary connection at most while answering.
            assertThat(during.primary().activeCount()).isGreaterThanOrEqualTo(3);
            assertThat(during.primary().totalCount()).isGreaterThanOrEqualTo(3);
            assertThat(during.analytics().activeCount()).isEqualTo(2);
            assertThat(during.analytics().totalCount()).isGreaterThanOrEqualTo(2);
        } finally {
            Flux.fromIterable(held).flatMap(Connection::close).blockLast();
        }
        Pools after = pools(admin);
        assertThat(after.analytics().activeCount()).isZero();
        assertThat(after.analytics().idleCount()).isGreaterThanOrEqualTo(2);
    }

    private Pools pools(Account admin) {
        return get(admin, "/api/admin/pools").exchange().expectStatus().isOk()
                .expectBody(Pools.class).returnResult().getResponseBody();
    }
}
