//! Decoding rows into records, shared by the SQL stores: the same columns and the same
//! rules (every failure a `Backend` error naming the column, never its value) for SQLite
//! and PostgreSQL. A macro rather than generics: sqlx's per-database `Decode` bounds would
//! otherwise have to be spelled out for every column type.

/// Defines `Decoder`, the `*_from_row` functions and `decode_all` for one row type
/// (`$row`, e.g. `SqliteRow`) of one database (`$db`, e.g. `Sqlite`). Expanded by
/// `sql_store!`, whose module imports the record types, `Row`, `FromStr` and
/// `DeserializeOwned`.
macro_rules! row_decoders {
    ($row:ty, $db:ty) => {
        /// Reads one row of `table`; every failure is a `Backend` error naming the column, never
        /// its value (some columns hold secret hashes).
        struct Decoder<'r> {
            row: &'r $row,
            table: &'static str,
        }

        impl<'r> Decoder<'r> {
            fn new(row: &'r $row, table: &'static str) -> Self {
                Self { row, table }
            }

            fn corrupt(&self, column: &str, detail: &str) -> StoreError {
                StoreError::Backend(format!(
                    "corrupt row in table {}: column {column}: {detail}",
                    self.table
                ))
            }

            fn get<T>(&self, column: &str) -> Result<T, StoreError>
            where
                T: sqlx::Decode<'r, $db> + sqlx::Type<$db>,
            {
                // sqlx's decode errors name types and column indexes, not values.
                self.row
                    .try_get(column)
                    .map_err(|e| self.corrupt(column, &e.to_string()))
            }

            fn json<T: DeserializeOwned>(&self, column: &str) -> Result<T, StoreError> {
                let text: String = self.get(column)?;
                serde_json::from_str(&text).map_err(|_| self.corrupt(column, "invalid JSON"))
            }

            fn scope(&self, column: &str) -> Result<Scope, StoreError> {
                let text: String = self.get(column)?;
                Scope::parse(&text).map_err(|_| self.corrupt(column, "invalid scope"))
            }

            fn opt_scope(&self, column: &str) -> Result<Option<Scope>, StoreError> {
                let text: Option<String> = self.get(column)?;
                text.map(|t| Scope::parse(&t).map_err(|_| self.corrupt(column, "invalid scope")))
                    .transpose()
            }

            /// The `amr` column: space-separated values; NULL (a row from before the column)
            /// is a password sign-in.
            fn amr(&self) -> Result<Vec<String>, StoreError> {
                Ok(match self.get::<Option<String>>("amr")? {
                    Some(t) if !t.trim().is_empty() => {
                        t.split_ascii_whitespace().map(str::to_owned).collect()
                    }
                    _ => $crate::store::password_amr(),
                })
            }

            fn secret(&self, column: &str) -> Result<Option<SecretHash>, StoreError> {
                Ok(self.get::<Option<String>>(column)?.map(SecretHash::new))
            }
        }

        fn user_from_row(row: &$row) -> Result<User, StoreError> {
            let d = Decoder::new(row, "users");
            Ok(User {
                id: d.get("id")?,
                tenant_id: d.get("tenant_id")?,
                email: d.get("email")?,
                email_verified: d.get("email_verified")?,
                password_hash: d.secret("password_hash")?,
                name: d.get("name")?,
                given_name: d.get("given_name")?,
                family_name: d.get("family_name")?,
                picture: d.get("picture")?,
                locale: d.get("locale")?,
                active: d.get("active")?,
                allowed_scopes: d.opt_scope("allowed_scopes")?,
                attributes: d.json("attributes")?,
                created_at: d.get("created_at")?,
                updated_at: d.get("updated_at")?,
            })
        }

        fn client_from_row(row: &$row) -> Result<Client, StoreError> {
            let d = Decoder::new(row, "clients");
            let method: String = d.get("token_endpoint_auth_method")?;
            let token_endpoint_auth_method = AuthMethod::parse(&method)
                .ok_or_else(|| d.corrupt("token_endpoint_auth_method", "unknown method"))?;
            Ok(Client {
                client_id: d.get("client_id")?,
                tenant_id: d.get("tenant_id")?,
                name: d.get("name")?,
                secret_hash: d.secret("secret_hash")?,
                redirect_uris: d.json("redirect_uris")?,
                post_logout_redirect_uris: d.json("post_logout_redirect_uris")?,
                backchannel_logout_uri: d.get("backchannel_logout_uri")?,
                allowed_scopes: d.scope("allowed_scopes")?,
                grant_types: d.json::<Vec<GrantType>>("grant_types")?,
                token_endpoint_auth_method,
                audiences: d.json("audiences")?,
                first_party: d.get("first_party")?,
                active: d.get("active")?,
                attributes: d.json("attributes")?,
                created_at: d.get("created_at")?,
                updated_at: d.get("updated_at")?,
            })
        }

        fn tenant_from_row(row: &$row) -> Result<Tenant, StoreError> {
            let d = Decoder::new(row, "tenants");
            Ok(Tenant {
                id: d.get("id")?,
                display_name: d.get("display_name")?,
                logo_url: d.get("logo_url")?,
                allowed_scopes: d.opt_scope("allowed_scopes")?,
                created_at: d.get("created_at")?,
                updated_at: d.get("updated_at")?,
            })
        }

        fn key_from_row(row: &$row) -> Result<SigningKeyRecord, StoreError> {
            let d = Decoder::new(row, "signing_keys");
            let alg: String = d.get("alg")?;
            let alg =
                Algorithm::from_str(&alg).map_err(|_| d.corrupt("alg", "unknown algorithm"))?;
            Ok(SigningKeyRecord {
                kid: d.get("kid")?,
                alg,
                private_key_sealed: d.get("private_key_sealed")?,
                public_jwk: d.json::<Jwk>("public_jwk")?,
                created_at: d.get("created_at")?,
                activates_at: d.get("activates_at")?,
                retired_at: d.get("retired_at")?,
                expires_at: d.get("expires_at")?,
            })
        }

        fn code_from_row(row: &$row) -> Result<AuthCodeRecord, StoreError> {
            let d = Decoder::new(row, "auth_codes");
            Ok(AuthCodeRecord {
                code_hash: d.get("code_hash")?,
                client_id: d.get("client_id")?,
                user_id: d.get("user_id")?,
                redirect_uri: d.get("redirect_uri")?,
                scope: d.scope("scope")?,
                nonce: d.get("nonce")?,
                code_challenge: d.get("code_challenge")?,
                auth_time: d.get("auth_time")?,
                session_id: d.get("session_id")?,
                grant_id: d.get("grant_id")?,
                created_at: d.get("created_at")?,
                expires_at: d.get("expires_at")?,
                consumed_at: d.get("consumed_at")?,
            })
        }

        fn device_from_row(row: &$row) -> Result<DeviceCodeRecord, StoreError> {
            let d = Decoder::new(row, "device_codes");
            let status: String = d.get("status")?;
            let status = DeviceStatus::parse(&status)
                .ok_or_else(|| d.corrupt("status", "unknown status"))?;
            Ok(DeviceCodeRecord {
                device_code_hash: d.get("device_code_hash")?,
                user_code: d.get("user_code")?,
                client_id: d.get("client_id")?,
                scope: d.scope("scope")?,
                created_at: d.get("created_at")?,
                expires_at: d.get("expires_at")?,
                interval: d.get("poll_interval")?,
                last_polled_at: d.get("last_polled_at")?,
                status,
                user_id: d.get("user_id")?,
                grant_id: d.get("grant_id")?,
                granted_scope: d.opt_scope("granted_scope")?,
                session_id: d.get("session_id")?,
                auth_time: d.get("auth_time")?,
                decided_at: d.get("decided_at")?,
                consumed_at: d.get("consumed_at")?,
            })
        }

        fn refresh_from_row(row: &$row) -> Result<RefreshTokenRecord, StoreError> {
            let d = Decoder::new(row, "refresh_tokens");
            Ok(RefreshTokenRecord {
                token_hash: d.get("token_hash")?,
                family_id: d.get("family_id")?,
                client_id: d.get("client_id")?,
                user_id: d.get("user_id")?,
                scope: d.scope("scope")?,
                audiences: d.json("audiences")?,
                auth_time: d.get("auth_time")?,
                session_id: d.get("session_id")?,
                tenant_id: d.get("tenant_id")?,
                created_at: d.get("created_at")?,
                expires_at: d.get("expires_at")?,
                rotated_at: d.get("rotated_at")?,
                revoked_at: d.get("revoked_at")?,
            })
        }

        fn grant_from_row(row: &$row) -> Result<GrantRecord, StoreError> {
            let d = Decoder::new(row, "grants");
            Ok(GrantRecord {
                grant_id: d.get("grant_id")?,
                client_id: d.get("client_id")?,
                user_id: d.get("user_id")?,
                tenant_id: d.get("tenant_id")?,
                session_id: d.get("session_id")?,
                offline: d.get("offline")?,
                created_at: d.get("created_at")?,
                expires_at: d.get("expires_at")?,
                revoked_at: d.get("revoked_at")?,
                amr: d.amr()?,
            })
        }

        fn session_from_row(row: &$row) -> Result<SessionRecord, StoreError> {
            let d = Decoder::new(row, "sessions");
            Ok(SessionRecord {
                session_hash: d.get("session_hash")?,
                sid: d.get("sid")?,
                user_id: d.get("user_id")?,
                auth_time: d.get("auth_time")?,
                created_at: d.get("created_at")?,
                expires_at: d.get("expires_at")?,
                amr: d.amr()?,
            })
        }

        fn account_token_from_row(row: &$row) -> Result<AccountTokenRecord, StoreError> {
            let d = Decoder::new(row, "account_tokens");
            let purpose: String = d.get("purpose")?;
            let purpose = AccountTokenPurpose::parse(&purpose)
                .ok_or_else(|| d.corrupt("purpose", "unknown purpose"))?;
            Ok(AccountTokenRecord {
                token_hash: d.get("token_hash")?,
                purpose,
                user_id: d.get("user_id")?,
                email: d.get("email")?,
                created_at: d.get("created_at")?,
                expires_at: d.get("expires_at")?,
            })
        }

        fn consent_from_row(row: &$row) -> Result<ConsentRecord, StoreError> {
            let d = Decoder::new(row, "consents");
            Ok(ConsentRecord {
                user_id: d.get("user_id")?,
                client_id: d.get("client_id")?,
                scope: d.scope("scope")?,
                granted_at: d.get("granted_at")?,
            })
        }

        fn decode_all<T>(
            rows: Vec<$row>,
            decode: fn(&$row) -> Result<T, StoreError>,
        ) -> Result<Vec<T>, StoreError> {
            rows.iter().map(decode).collect()
        }
    };
}

pub(super) use row_decoders;
