package io.fluxgate.profiles;

import java.util.concurrent.TimeUnit;

import org.springframework.boot.mongodb.autoconfigure.MongoClientSettingsBuilderCustomizer;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.data.mongodb.ReactiveMongoDatabaseFactory;
import org.springframework.data.mongodb.ReactiveMongoTransactionManager;

@Configuration(proxyBeanMethods = false)
class MongoConfiguration {

    @Bean
    MongoClientSettingsBuilderCustomizer fluxgateMongoSettings(MongoSettings settings) {
        return builder -> builder
                .applyToConnectionPoolSettings(pool -> pool
                        .maxSize(settings.maxPoolSize())
                        .minSize(settings.minPoolSize())
                        .maxConnectionIdleTime(settings.maxIdleTime().toMillis(), TimeUnit.MILLISECONDS))
                .applyToClusterSettings(cluster -> cluster
                        .serverSelectionTimeout(settings.serverSelectionTimeout().toMillis(), TimeUnit.MILLISECONDS))
                .applyToSocketSettings(socket -> socket
                        .connectTimeout((int) settings.serverSelectionTimeout().toMillis(), TimeUnit.MILLISECONDS)
                        .readTimeout((int) settings.socketTimeout().toMillis(), TimeUnit.MILLISECONDS))
                .retryWrites(settings.retryWrites())
                .retryReads(settings.retryReads());
    }

    /** Multi-document transactions (profile and linked account together); needs a replica set. */
    @Bean
    ReactiveMongoTransactionManager mongoTransactionManager(ReactiveMongoDatabaseFactory factory) {
        return new ReactiveMongoTransactionManager(factory);
    }
}
