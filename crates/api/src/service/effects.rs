//! What a contact change records besides its row: the lifecycle transition and the
//! events. Computed without IO, so single writes and bulk writes record exactly the
//! same things.

use rapport_domain::contact::Contact;
use rapport_domain::event::{Event, EventType};
use rapport_domain::lifecycle::{Cause, Direction, Stage, Transition};
use rapport_domain::{ContactId, TransitionId};
use rapport_store::{StoreError, Tx, lifecycle, outbox};
use serde_json::json;

use super::event;
use crate::auth::Caller;
use crate::dto::contacts::{ContactDto, TransitionDto};

/// Transitions and events to write.
#[derive(Debug, Default)]
pub(crate) struct Effects {
    pub transitions: Vec<Transition>,
    pub events: Vec<Event>,
    /// The contacts written, whose segment memberships are decided again.
    pub contacts: Vec<ContactId>,
}

impl Effects {
    /// A new contact: its first stage and `contact.created`.
    pub fn created(&mut self, who: &Caller, contact: &Contact, cause: Cause) {
        self.contacts.push(contact.id);
        self.transitions.push(Transition {
            id: TransitionId::new(),
            contact_id: contact.id,
            from: None,
            to: contact.stage.stage,
            direction: Direction::Forward,
            cause,
            actor: who.actor().clone(),
            reason: None,
            at: contact.created_at,
        });
        let object = super::object(&ContactDto::from(contact));
        self.events
            .push(event(EventType::ContactCreated, who, contact.created_at, object, None));
    }

    /// A changed contact: `contact.updated` with the changed fields and, when the stage
    /// moved, the transition and `contact.stage_changed`.
    pub fn changed(
        &mut self,
        who: &Caller,
        before: &Contact,
        after: &Contact,
        moved: Option<(Stage, Direction)>,
        cause: Cause,
        reason: Option<String>,
    ) {
        self.contacts.push(after.id);
        let old = super::object(&ContactDto::from(before));
        let new = super::object(&ContactDto::from(after));
        let changes = rapport_domain::event::changes(&old, &new);
        let stage_event_object = moved.is_some().then(|| new.clone());
        self.events.push(event(
            EventType::ContactUpdated,
            who,
            after.updated_at,
            new,
            Some(changes),
        ));
        if let Some((to, direction)) = moved {
            let t = Transition {
                id: TransitionId::new(),
                contact_id: after.id,
                from: Some(before.stage.stage),
                to,
                direction,
                cause,
                actor: who.actor().clone(),
                reason,
                at: after.updated_at,
            };
            let transition = TransitionDto::from(&t);
            self.transitions.push(t);
            self.events.push(event(
                EventType::ContactStageChanged,
                who,
                after.updated_at,
                stage_event_object.unwrap_or_default(),
                Some(json!({ "transition": transition })),
            ));
        }
    }

    /// Writes everything in the caller's transaction, then decides the contacts'
    /// segment memberships again.
    pub async fn write(&self, tx: &Tx, who: &Caller) -> Result<(), StoreError> {
        lifecycle::record_many(tx, who.workspace(), &self.transitions).await?;
        outbox::push(tx, &self.events).await?;
        super::membership::upkeep(tx, who, &self.contacts).await
    }
}
