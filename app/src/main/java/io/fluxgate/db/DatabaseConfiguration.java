package io.fluxgate.db;

import io.micrometer.core.instrument.MeterRegistry;
import io.r2dbc.spi.ConnectionFactory;
import io.r2dbc.spi.ConnectionFactoryOptions;

import org.springframework.beans.factory.ObjectProvider;
import org.springframework.beans.factory.annotation.Qualifier;
import org.springframework.boot.r2dbc.autoconfigure.R2dbcConnectionDetails;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Primary;
import org.springframework.r2dbc.connection.R2dbcTransactionManager;
import org.springframework.r2dbc.core.DatabaseClient;
import org.springframework.transaction.ReactiveTransactionManager;

import static io.r2dbc.spi.ConnectionFactoryOptions.CONNECT_TIMEOUT;
import static io.r2dbc.spi.ConnectionFactoryOptions.DATABASE;
import static io.r2dbc.spi.ConnectionFactoryOptions.DRIVER;
import static io.r2dbc.spi.ConnectionFactoryOptions.HOST;
import static io.r2dbc.spi.ConnectionFactoryOptions.PASSWORD;
import static io.r2dbc.spi.ConnectionFactoryOptions.PORT;
import static io.r2dbc.spi.ConnectionFactoryOptions.USER;

/**
 * Wires the named pools. {@code primary} serves requests and is the default {@link ConnectionFactory}
 * (Spring's {@link DatabaseClient} and transaction manager use it); {@code analytics} serves
 * reporting queries so a heavy report cannot starve request traffic.
 */
@Configuration(proxyBeanMethods = false)
class DatabaseConfiguration {

    /**
     * Connection settings: a Boot {@link R2dbcConnectionDetails} when one exists (a Testcontainers
     * service connection or an explicit {@code SPRING_R2DBC_URL}), else {@code fluxgate.db.*}.
     */
    @Bean
    ConnectionFactoryOptions postgresConnectionOptions(DatabaseProperties properties,
            ObjectProvider<R2dbcConnectionDetails> connectionDetails) {
        R2dbcConnectionDetails details = connectionDetails.getIfAvailable();
        ConnectionFactoryOptions.Builder options = details != null
                ? details.getConnectionFactoryOptions().mutate()
                : ConnectionFactoryOptions.builder()
                        .option(DRIVER, "postgresql")
                        .option(HOST, properties.host())
                        .option(PORT, properties.port())
                        .option(DATABASE, properties.name())
                        .option(USER, properties.username())
                        .option(PASSWORD, properties.password());
        // A server that does not answer must fail the request within the acquire timeout, not hang.
        return options.option(CONNECT_TIMEOUT,
                properties.pools().primary().acquireTimeout().dividedBy(NamedPools.ACQUIRE_ATTEMPTS)).build();
    }

    @Bean
    NamedPools namedPools(ConnectionFactoryOptions postgresConnectionOptions, DatabaseProperties properties,
            MeterRegistry registry) {
        return new NamedPools(postgresConnectionOptions, properties, registry);
    }

    @Bean
    @Primary
    ConnectionFactory connectionFactory(NamedPools pools) {
        return pools.connectionFactory(NamedPools.PRIMARY);
    }

    @Bean
    ConnectionFactory analyticsConnectionFactory(NamedPools pools) {
        return pools.connectionFactory(NamedPools.ANALYTICS);
    }

    /**
     * PostgreSQL transactions; primary, because MongoDB has a transaction manager of its own and
     * SQL services ask for a plain {@link ReactiveTransactionManager}.
     */
    @Bean
    @Primary
    ReactiveTransactionManager transactionManager(ConnectionFactory connectionFactory) {
        return new R2dbcTransactionManager(connectionFactory);
    }

    /** Request traffic; injected wherever a plain {@link DatabaseClient} is asked for. */
    @Bean
    @Primary
    DatabaseClient databaseClient(ConnectionFactory connectionFactory) {
        return DatabaseClient.create(connectionFactory);
    }

    /** Reporting traffic: statistics, EXPLAIN and other heavy reads. */
    @Bean
    DatabaseClient analyticsDatabaseClient(@Qualifier("analyticsConnectionFactory") ConnectionFactory analytics) {
        return DatabaseClient.create(analytics);
    }
}
