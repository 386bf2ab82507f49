"""OAuth1 (tables OAuth1Consumer, OAuth1RequestToken, OAuth1AccessToken): consumers,
the request tokens they ask for, and the access tokens those are exchanged for."""

from .base import ConceptStore


class OAuth1Store(ConceptStore):
    # ---- consumers ---------------------------------------------------------------

    def create_consumer(self, consumer_id: str, secret: str, description: str, extra: str,
                        created_at: int):
        """The new consumer (`extra` a JSON object)."""
        return self.t.OAuth1Consumer.create(id=consumer_id, secret=secret,
                                            description=description, extra=extra,
                                            created_at=created_at)

    def find_consumer(self, consumer_id: str):
        """The consumer, or None."""
        Consumer = self.t.OAuth1Consumer
        return Consumer.get_or_none(Consumer.id == consumer_id)

    def list_consumers(self) -> list:
        """Every consumer, oldest first (then by id)."""
        Consumer = self.t.OAuth1Consumer
        return list(Consumer.select().order_by(Consumer.created_at, Consumer.id))

    def update_consumer(self, consumer_id: str, change):
        """`change(row)` gives the fields to set, inside the transaction (see
        ConceptStore.update); NotFound when there is no such consumer."""
        return self.update(self.t.OAuth1Consumer, consumer_id, change,
                           f"consumer {consumer_id} not found")

    def delete_consumer(self, consumer_id: str) -> bool:
        """The consumer with its request and access tokens; False: no such consumer."""
        t = self.t
        t.OAuth1RequestToken.delete().where(t.OAuth1RequestToken.consumer == consumer_id).execute()
        t.OAuth1AccessToken.delete().where(t.OAuth1AccessToken.consumer == consumer_id).execute()
        Consumer = t.OAuth1Consumer
        return bool(Consumer.delete().where(Consumer.id == consumer_id).execute())

    # ---- request tokens ------------------------------------------------------------

    def create_request_token(self, token_id: str, secret: str, consumer_id: str,
                             project_id: str, expires_at: int | None, created_at: int):
        """A new, unauthorized request token. A consumer or project that does not exist
        is an IntegrityError."""
        return self.t.OAuth1RequestToken.create(
            id=token_id, secret=secret, consumer=consumer_id, project=project_id,
            expires_at=expires_at, created_at=created_at)

    def find_request_token(self, token_id: str):
        """The request token, or None."""
        Token = self.t.OAuth1RequestToken
        return Token.get_or_none(Token.id == token_id)

    def authorize_request_token(self, token_id: str, change):
        """`change(row)` gives the authorization to write (user, roles, verifier), or
        raises to refuse it, inside the transaction; NotFound when there is none."""
        return self.update(self.t.OAuth1RequestToken, token_id, change,
                           f"request token {token_id} not found")

    def take_request_token(self, token_id: str):
        """The request token, locked and deleted in the caller's transaction (one
        exchange for an access token each); NotFound when another took it first."""
        Token = self.t.OAuth1RequestToken
        row = self.locked(Token, token_id, f"request token {token_id} not found")
        Token.delete().where(Token.id == token_id).execute()
        return row

    def delete_expired_request_tokens(self, now: int) -> int:
        """Forget the request tokens that expired before `now`: none can be used."""
        Token = self.t.OAuth1RequestToken
        return Token.delete().where(Token.expires_at.is_null(False),
                                    Token.expires_at <= now).execute()

    # ---- access tokens ---------------------------------------------------------------

    def create_access_token(self, token_id: str, secret: str, consumer_id: str, user_id: str,
                            project_id: str, role_ids: str, expires_at: int | None,
                            created_at: int):
        """The new access token (`role_ids` a JSON list)."""
        return self.t.OAuth1AccessToken.create(
            id=token_id, secret=secret, consumer=consumer_id, authorizing_user=user_id,
            project=project_id, role_ids=role_ids, expires_at=expires_at,
            created_at=created_at)

    def find_access_token(self, token_id: str):
        """The access token, or None."""
        Token = self.t.OAuth1AccessToken
        return Token.get_or_none(Token.id == token_id)

    def list_access_tokens(self, user_id: str) -> list:
        """The access tokens the user authorized, oldest first (then by id)."""
        Token = self.t.OAuth1AccessToken
        return list(Token.select().where(Token.authorizing_user == user_id)
                    .order_by(Token.created_at, Token.id))

    def delete_access_token(self, token_id: str) -> bool:
        """False: no such access token."""
        Token = self.t.OAuth1AccessToken
        return bool(Token.delete().where(Token.id == token_id).execute())
