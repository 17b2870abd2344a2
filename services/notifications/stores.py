"""Every collection the notifications service reads or writes, opened together on one database."""

from __future__ import annotations

from dataclasses import dataclass

from pymongo import IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from services.notifications.deliveries import DeliveryRepository
from services.notifications.repository import (
    GoalBindings,
    NotificationRepository,
    PreferenceRepository,
)
from services.notifications.settled import SettledRefs
from services.notifications.subscriptions import SubscriptionRepository
from shared.directory import PeopleDirectory
from shared.erasure import ErasedPeople
from shared.mongo import Document
from shared.time import Clock


@dataclass(frozen=True)
class NotificationStores:
    notifications: NotificationRepository
    deliveries: DeliveryRepository
    preferences: PreferenceRepository
    subscriptions: SubscriptionRepository
    bindings: GoalBindings
    directory: PeopleDirectory
    settled: SettledRefs
    erased: ErasedPeople

    @classmethod
    def of(cls, db: AsyncDatabase[Document], clock: Clock) -> NotificationStores:
        return cls(
            notifications=NotificationRepository(db),
            deliveries=DeliveryRepository(db),
            preferences=PreferenceRepository(db),
            subscriptions=SubscriptionRepository(db),
            bindings=GoalBindings(db),
            directory=PeopleDirectory(db),
            settled=SettledRefs(db),
            erased=ErasedPeople(db, clock),
        )

    @staticmethod
    def indexes() -> dict[str, list[IndexModel]]:
        return {
            **NotificationRepository.indexes(),
            **DeliveryRepository.indexes(),
            **PreferenceRepository.indexes(),
            **SubscriptionRepository.indexes(),
            **GoalBindings.indexes(),
            **PeopleDirectory.indexes(),
            **SettledRefs.indexes(),
            **ErasedPeople.indexes(),
        }
