package memstore

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/sessiond/sessiond/client"
)

var _ client.Store = (*Store)(nil)

// clientTables holds registered OAuth clients by ID; the map is made on
// first use, under m.mu.
type clientTables struct {
	byID map[string]*client.Client
}

// ct returns the client tables; m.mu held.
func (m *Store) ct() *clientTables {
	if m.clients.byID == nil {
		m.clients.byID = map[string]*client.Client{}
	}
	return &m.clients
}

// CreateClient implements client.Store.
func (m *Store) CreateClient(ctx context.Context, c *client.Client) error {
	if err := ctxErr(ctx, "create client"); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.ct()
	if _, ok := t.byID[c.ID]; ok {
		return fmt.Errorf("memstore: create client: %w", client.ErrConflict)
	}
	t.byID[c.ID] = c.Clone()
	return nil
}

// GetClient implements client.Store.
func (m *Store) GetClient(ctx context.Context, id string) (*client.Client, error) {
	if err := ctxErr(ctx, "get client"); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.ct().byID[id]
	if !ok {
		return nil, fmt.Errorf("memstore: get client: %w", client.ErrNotFound)
	}
	return c.Clone(), nil
}

// ListClients implements client.Store.
func (m *Store) ListClients(ctx context.Context) ([]*client.Client, error) {
	if err := ctxErr(ctx, "list clients"); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.ct()
	out := make([]*client.Client, 0, len(t.byID))
	for _, id := range slices.Sorted(maps.Keys(t.byID)) {
		out = append(out, t.byID[id].Clone())
	}
	return out, nil
}

// DeleteClient implements client.Store.
func (m *Store) DeleteClient(ctx context.Context, id string) error {
	if err := ctxErr(ctx, "delete client"); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.ct()
	if _, ok := t.byID[id]; !ok {
		return fmt.Errorf("memstore: delete client: %w", client.ErrNotFound)
	}
	delete(t.byID, id)
	return nil
}
